"""Leaf-node sites (DESIGN §7): an agency on its own network runs its own nats-server.

Pure, like :mod:`services.runtime.server.nats_config`: registry in, configuration text out.

* The site's server is a leaf node of the hub with its own JetStream domain (the agency's
  id). Its services talk only to it, so they keep accepting commands while the link is
  down: their outbox publishes into the site's ``IPBUS`` stream, which captures only the
  agency's own events (``ipbus.v1.<agency>.>``).
* The hub's ``IPBUS`` *sources* the site's ``IPBUS`` across the domain
  (``$JS.<agency>.API``): JetStream pulls what the site stored, in order, and resumes
  where it stopped when the link returns. Deliveries back are sourced the other way: the
  site's ``IPBUS`` also sources the hub's events addressed to the agency, so the agency's
  durable consumer lives on its own server and reads them locally (:mod:`site_streams`).
  The agency's dead letters (``IPBUS_DLQ``) are sourced to the hub the same way.
* The link itself carries no event subject (``deny_exports``): an event reaches the hub
  only through sourcing, so never twice.
* The link authenticates with the agency's own nkey; on the hub that user gets, besides
  its usual rights, exactly what sourcing needs: the hub may create a consumer on the
  site's streams, the site one on the hub's ``IPBUS`` filtered to its own mail, and both
  exchange JetStream's delivery (``$JS.S``), flow-control (``$JS.FC``) and reply
  (``$JSC.R``) subjects.
"""

from collections.abc import Iterable, Sequence

from contracts.agencies import Agency, Registry
from contracts.subjects import DLQ_PREFIX, DLQ_STREAM, EVENT_PREFIX, EVENT_STREAM, agency_filter
from services.runtime.server.nats_config import (
    HEADER,
    ClusterNode,
    Permissions,
    TlsFiles,
    agency_permissions,
)

__all__ = [
    "DEFAULT_HUB_DOMAIN",
    "SEED_VARIABLE",
    "hub_config",
    "site_config",
    "site_domain",
    "site_link_permissions",
]

DEFAULT_HUB_DOMAIN = "hub"
SEED_VARIABLE = "IPBUS_SITE_NKEY_SEED"
"""The site server reads the agency's seed from this environment variable, not the file."""
_JS_INTERNAL = ("$JS.S.>", "$JS.FC.>", "$JSC.R.>")


def site_domain(agency_id: str) -> str:
    """A site's JetStream domain: its agency's id (unique, a valid subject token)."""
    return agency_id


def site_link_permissions(agency: Agency, hub_domain: str = DEFAULT_HUB_DOMAIN) -> Permissions:
    """The agency's rights on the hub, plus what stream sourcing over its leaf link needs.

    For a leaf connection "publish" is what the site may send into the hub and "subscribe"
    what the hub may send to the site.
    """
    me = agency.id
    own = agency_permissions(agency)
    site_api = f"$JS.{site_domain(me)}.API"
    return Permissions(
        publish=(
            *own.publish,
            f"$JS.{hub_domain}.API.CONSUMER.CREATE.{EVENT_STREAM}.*.{agency_filter(me)}",
            *_JS_INTERNAL,
        ),
        subscribe=(
            *own.subscribe,
            *(f"{site_api}.CONSUMER.CREATE.{s}.>" for s in (EVENT_STREAM, DLQ_STREAM)),
            *_JS_INTERNAL,
        ),
        allow_responses=own.allow_responses,
    )


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _user(nkey: str, rights: Permissions | None, note: str) -> str:
    lines = [f"    # {note}", "    {", f"      nkey: {_q(nkey)}"]
    if rights is not None:
        lines += [
            "      permissions: {",
            f"        publish: {{ allow: {_list(rights.publish)} }}",
            f"        subscribe: {{ allow: {_list(rights.subscribe)} }}",
        ]
        if rights.allow_responses:
            lines.append('        allow_responses: { max: 1, expires: "1m" }')
        lines.append("      }")
    lines.append("    }")
    return "\n".join(lines)


def _keys(agency: Agency) -> list[str]:
    if agency.public_key is None:
        raise ValueError(
            f"{agency.id} has no public key: use the effective registry (<data dir>/agencies.toml)"
        )
    keys = [agency.public_key]
    if agency.previous_public_key and agency.previous_public_key != agency.public_key:
        keys.append(agency.previous_public_key)
    return keys


def _tls(tls: TlsFiles | None, indent: str = "") -> str:
    if tls is None:
        return ""
    lines = [f"tls {{ cert_file: {_q(str(tls.cert_file))}, key_file: {_q(str(tls.key_file))}"]
    if tls.ca_file is not None:
        lines.append(f", ca_file: {_q(str(tls.ca_file))}")
    if tls.verify:
        lines.append(", verify: true")
    return indent + "".join(lines) + " }\n"


def hub_config(
    registry: Registry,
    sites: Sequence[str],
    *,
    hub_domain: str = DEFAULT_HUB_DOMAIN,
    leaf_port: int = 7422,
    tls: TlsFiles | None = None,
    node: ClusterNode | None = None,
    peers: Sequence[ClusterNode] = (),
    store_dir: str = "/data/jetstream",
) -> str:
    """The hub's side: its JetStream domain, where sites connect, and every agency's user
    (a site agency's with the sourcing rights of :func:`site_link_permissions`).

    With ``node`` (and its ``peers``): that node of a 3-node hub cluster, every node in the
    same domain; without, a single node whose host, port and store come from the command line.
    """
    users = []
    for agency in registry.agencies:
        rights = (
            site_link_permissions(agency, hub_domain)
            if agency.id in sites
            else agency_permissions(agency)
        )
        kind = "leaf site" if agency.id in sites else agency.kind.value
        users += [_user(key, rights, f"{agency.id} ({kind})") for key in _keys(agency)]
    if node is None:
        server = f"jetstream {{ domain: {_q(hub_domain)} }}\n"
    else:
        routes = [f"nats-route://{p.host}:{p.cluster_port}" for p in peers if p.name != node.name]
        server = (
            f"server_name: {_q(node.name)}\n"
            + f"listen: {_q(f'0.0.0.0:{node.client_port}')}\n"
            + f"jetstream {{ store_dir: {_q(store_dir)}, domain: {_q(hub_domain)} }}\n"
            + f'cluster {{\n  name: "ipbus"\n  listen: {_q(f"0.0.0.0:{node.cluster_port}")}\n'
            + f"  routes: {_list(routes)}\n}}\n"
        )
    return (
        HEADER
        + server
        + f"leafnodes {{\n  port: {leaf_port}\n"
        + _tls(tls, "  ")
        + "}\n"
        + "authorization {\n  users: [\n"
        + "\n".join(users)
        + "\n  ]\n}\n"
    )


def site_config(
    registry: Registry,
    agency_id: str,
    *,
    hub_urls: Sequence[str],
    hub_ca: str | None = None,
) -> str:
    """A site's leaf node: its domain, its link to the hub (as the agency, seed from
    ``$IPBUS_SITE_NKEY_SEED``), no event subject on the link, and only the agency's key
    among its own clients. Host, port and store come from the command line."""
    agency = registry.get(agency_id)
    remote = [
        f"    urls: {_list(hub_urls)}",
        f"    nkey: ${SEED_VARIABLE}",
        f"    deny_exports: {_list((f'{EVENT_PREFIX}.>', f'{DLQ_PREFIX}.>'))}",
        f"    deny_imports: {_list((f'{EVENT_PREFIX}.>', f'{DLQ_PREFIX}.>'))}",
    ]
    if hub_ca is not None:
        remote.append(f"    tls {{ ca_file: {_q(hub_ca)} }}")
    users = [_user(key, None, f"{agency_id}: its own services") for key in _keys(agency)]
    return (
        HEADER
        + f"server_name: {_q('site-' + agency_id)}\n"
        + f"jetstream {{ domain: {_q(site_domain(agency_id))} }}\n"
        + "leafnodes {\n  remotes: [\n  {\n"
        + "\n".join(remote)
        + "\n  }\n  ]\n}\n"
        + "authorization {\n  users: [\n"
        + "\n".join(users)
        + "\n  ]\n}\n"
    )
