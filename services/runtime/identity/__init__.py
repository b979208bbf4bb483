"""Who is on the bus: agency keys and signatures, the registry on disk, the operator, connections,
settings and the security posture, private files.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.runtime.identity.connection import AgencyConnection, tls_context
    from services.runtime.identity.key_history import sender_keys, verify_sender
    from services.runtime.identity.operator import (
        forget_bus,
        operator_connection,
        read_bus_record,
        record_bus,
    )
    from services.runtime.identity.posture import announce_open_mode, require_authentication
    from services.runtime.identity.registry import (
        key_path,
        load_agency_key,
        load_registry,
        prepare_registry,
    )
    from services.runtime.identity.secret_files import (
        create_once,
        open_private,
        private_dir,
        touch_private,
    )
    from services.runtime.identity.settings import Settings, server_list
    from services.runtime.identity.signing import (
        AgencyKey,
        generate_seed,
        load_or_create_key,
        public_key_bytes,
        sign_envelope,
        verify_event,
    )

__all__ = [
    "AgencyConnection",
    "AgencyKey",
    "Settings",
    "announce_open_mode",
    "create_once",
    "forget_bus",
    "generate_seed",
    "key_path",
    "load_agency_key",
    "load_or_create_key",
    "load_registry",
    "open_private",
    "operator_connection",
    "prepare_registry",
    "private_dir",
    "public_key_bytes",
    "read_bus_record",
    "record_bus",
    "require_authentication",
    "sender_keys",
    "server_list",
    "sign_envelope",
    "tls_context",
    "touch_private",
    "verify_event",
    "verify_sender",
]
_EXPORTS = {
    "AgencyConnection": "services.runtime.identity.connection",
    "AgencyKey": "services.runtime.identity.signing",
    "Settings": "services.runtime.identity.settings",
    "announce_open_mode": "services.runtime.identity.posture",
    "create_once": "services.runtime.identity.secret_files",
    "forget_bus": "services.runtime.identity.operator",
    "generate_seed": "services.runtime.identity.signing",
    "key_path": "services.runtime.identity.registry",
    "load_agency_key": "services.runtime.identity.registry",
    "load_or_create_key": "services.runtime.identity.signing",
    "load_registry": "services.runtime.identity.registry",
    "open_private": "services.runtime.identity.secret_files",
    "operator_connection": "services.runtime.identity.operator",
    "prepare_registry": "services.runtime.identity.registry",
    "private_dir": "services.runtime.identity.secret_files",
    "public_key_bytes": "services.runtime.identity.signing",
    "read_bus_record": "services.runtime.identity.operator",
    "record_bus": "services.runtime.identity.operator",
    "require_authentication": "services.runtime.identity.posture",
    "sender_keys": "services.runtime.identity.key_history",
    "server_list": "services.runtime.identity.settings",
    "sign_envelope": "services.runtime.identity.signing",
    "tls_context": "services.runtime.identity.connection",
    "touch_private": "services.runtime.identity.secret_files",
    "verify_event": "services.runtime.identity.signing",
    "verify_sender": "services.runtime.identity.key_history",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
