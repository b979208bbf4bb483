"""The nats-server itself: the embedded binary, its configuration from the registry, leaf-node
sites, a development certificate authority.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.runtime.server.dev_ca import CertificateAuthority
    from services.runtime.server.nats_config import (
        CLIENT_CA,
        DEPLOYED_ENV,
        OPERATOR,
        ROUTE_CA,
        ROUTE_CERT,
        ROUTE_KEY,
        SERVER_CERT,
        SERVER_KEY,
        ClusterNode,
        ConnectionLimits,
        TlsFiles,
        agency_permissions,
        cluster_config,
        deployed_config,
        inbox_prefix,
        is_inbox,
        operator_permissions,
        single_node_config,
    )
    from services.runtime.server.nats_server import EmbeddedNatsServer, find_nats_server, free_port
    from services.runtime.server.nats_sites import (
        SEED_VARIABLE,
        hub_config,
        site_config,
        site_domain,
        site_link_permissions,
    )

__all__ = [
    "CLIENT_CA",
    "DEPLOYED_ENV",
    "OPERATOR",
    "ROUTE_CA",
    "ROUTE_CERT",
    "ROUTE_KEY",
    "SEED_VARIABLE",
    "SERVER_CERT",
    "SERVER_KEY",
    "CertificateAuthority",
    "ClusterNode",
    "ConnectionLimits",
    "EmbeddedNatsServer",
    "TlsFiles",
    "agency_permissions",
    "cluster_config",
    "deployed_config",
    "find_nats_server",
    "free_port",
    "hub_config",
    "inbox_prefix",
    "is_inbox",
    "operator_permissions",
    "single_node_config",
    "site_config",
    "site_domain",
    "site_link_permissions",
]
_EXPORTS = {
    "CLIENT_CA": "services.runtime.server.nats_config",
    "CertificateAuthority": "services.runtime.server.dev_ca",
    "ClusterNode": "services.runtime.server.nats_config",
    "ConnectionLimits": "services.runtime.server.nats_config",
    "DEPLOYED_ENV": "services.runtime.server.nats_config",
    "EmbeddedNatsServer": "services.runtime.server.nats_server",
    "OPERATOR": "services.runtime.server.nats_config",
    "ROUTE_CA": "services.runtime.server.nats_config",
    "ROUTE_CERT": "services.runtime.server.nats_config",
    "ROUTE_KEY": "services.runtime.server.nats_config",
    "SEED_VARIABLE": "services.runtime.server.nats_sites",
    "SERVER_CERT": "services.runtime.server.nats_config",
    "SERVER_KEY": "services.runtime.server.nats_config",
    "TlsFiles": "services.runtime.server.nats_config",
    "agency_permissions": "services.runtime.server.nats_config",
    "cluster_config": "services.runtime.server.nats_config",
    "deployed_config": "services.runtime.server.nats_config",
    "find_nats_server": "services.runtime.server.nats_server",
    "free_port": "services.runtime.server.nats_server",
    "hub_config": "services.runtime.server.nats_sites",
    "inbox_prefix": "services.runtime.server.nats_config",
    "is_inbox": "services.runtime.server.nats_config",
    "operator_permissions": "services.runtime.server.nats_config",
    "single_node_config": "services.runtime.server.nats_config",
    "site_config": "services.runtime.server.nats_sites",
    "site_domain": "services.runtime.server.nats_sites",
    "site_link_permissions": "services.runtime.server.nats_sites",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
