"""nats-server configuration generated from the agency registry (DESIGN §2, §3).

Pure: a :class:`~contracts.agencies.Registry` in, configuration text out. One nkey user
per agency — the same nkey that signs its events — with the least rights its job needs:

* agency X publishes only ``ipbus.v1.X.>`` (its own events), ``ipbus.query.X.>`` (its own
  questions) and ``ipbus.dlq.agency-X.>`` (what it refused); it creates, reads and acks
  only its own durable consumer ``agency-X``; it receives only on its own reply inbox
  ``_INBOX_X.>`` (clients pass ``inbox_prefix``, see :func:`inbox_prefix`);
* the coordinator reads every event, publishes as itself, answers queries (responses only
  to the requests it received) and is the one identity that declares the streams;
* the operator (the ``ipbus`` commands, :mod:`services.runtime.identity.operator`) reads stream and
  consumer state and the dead letters, deletes a dead letter it replayed, publishes replays
  on ``ipbus.v1.operator.>`` (the one subject whose headers consumers trust, because only
  the operator may publish there: :mod:`services.runtime.bus.dlq`) and asks queries as the
  coordinator; nothing else;
* every DLQ subject is written by one identity only: ``ipbus.dlq.<its consumer>.>`` — but
  for ``ipbus.dlq.<consumer>.max_deliveries``, which the coordinator also writes when JetStream
  gives up on a message of that consumer (:mod:`services.runtime.bus.exhausted`);
* only the coordinator publishes audit anchors (``ipbus.audit.anchor``), and nobody may
  update, delete from or purge their stream (SECURITY.md);
* nobody may delete a stream or purge it; anonymous clients are refused (there is no
  ``no_auth_user``).

No permission can say where an agency's pull request has its messages delivered (the reply
subject): nats-server 2.15 delivers to any subject, and the stream ``IPBUS`` stores what is
delivered to one of its published subjects (``ipbus.v1.<s>.<r>.<key>.<family>.<verb>``)
again, under its original (stored, partitioned) subject and headers. The stream
refuses those copies itself: every event carries ``Nats-Msg-Id`` and the duplicate window
is at least the replay window (:mod:`services.runtime.bus.streams`), after which consumers
refuse the copy as ``replayed`` (SECURITY.md).
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contracts.agencies import Agency, AgencyKind, Registry
from contracts.envelope import RejectReason
from contracts.evidence import EVIDENCE_BUCKET
from contracts.subjects import (
    AUDIT_ANCHOR_STREAM,
    AUDIT_ANCHOR_SUBJECT,
    COORDINATOR,
    DLQ_PREFIX,
    DLQ_STREAM,
    EVENT_PREFIX,
    EVENT_STREAM,
    QUERY_PREFIX,
    agency_consumer,
)
from services.runtime.bus.streams import (
    COORDINATOR_CONSUMER,
    MAX_PARTITIONS,
    ConsumerSpec,
    agency_consumer_spec,
    coordinator_consumer_spec,
    coordinator_consumer_specs,
    evidence_stream,
)

__all__ = [
    "ClusterNode",
    "Permissions",
    "TlsFiles",
    "agency_permissions",
    "cluster_config",
    "inbox_prefix",
    "is_inbox",
    "operator_permissions",
    "single_node_config",
]

JS_API = "$JS.API"
OPERATOR = "operator"
"""The operator's user and subject token (also
:data:`services.runtime.identity.operator.OPERATOR`)."""


def inbox_prefix(agency_id: str) -> str:
    """The reply-inbox prefix an agency's clients must use; the only place it may listen."""
    return f"_INBOX_{agency_id}"


def is_inbox(subject: str) -> bool:
    """A reply inbox (``_INBOX.…``, or an identity's ``_INBOX_<id>.…``), not a bus subject."""
    return subject.startswith(("_INBOX.", "_INBOX_")) and "." in subject


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Server certificate, key and the CA clients are checked against (if ``verify``)."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    verify: bool = False


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One node of the JetStream cluster variant."""

    name: str
    host: str
    client_port: int
    cluster_port: int


@dataclass(frozen=True, slots=True)
class Permissions:
    """What one nkey user may publish and subscribe to."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False


def _consumer_rights(stream: str, spec: ConsumerSpec) -> tuple[str, ...]:
    """Create (with its own filter only), look up, fetch from and ack one durable consumer.

    Only the create subject that names the filter is allowed (the server checks it against
    the request body), so an agency cannot re-create its consumer to read others' mail.
    """
    durable = spec.durable
    return (
        f"{JS_API}.CONSUMER.CREATE.{stream}.{durable}.{spec.filter_subject}",
        f"{JS_API}.CONSUMER.INFO.{stream}.{durable}",
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    )


def agency_permissions(agency: Agency) -> Permissions:
    """The least rights ``agency`` needs; the coordinator's are wider (see module doc)."""
    me = agency.id
    durable = agency_consumer(me)
    if agency.kind is AgencyKind.COORDINATOR:
        # the evidence bucket too: the hub alone writes and reads it, for the parties
        streams = (EVENT_STREAM, DLQ_STREAM, evidence_stream())
        return Permissions(
            publish=(
                f"{EVENT_PREFIX}.{me}.>",
                f"{QUERY_PREFIX}.{me}.>",
                f"{DLQ_PREFIX}.{COORDINATOR_CONSUMER}.>",
                # what another consumer gave up on, under that consumer's name (exhausted.py)
                f"{DLQ_PREFIX}.*.{RejectReason.MAX_DELIVERIES.value}",
                f"{JS_API}.INFO",
                f"{JS_API}.STREAM.NAMES",
                f"{JS_API}.STREAM.LIST",
                *(f"{JS_API}.STREAM.{verb}.{s}" for s in streams for verb in _STREAM_ADMIN),
                # one durable consumer per partition of the stream (streams.py)
                *(
                    right
                    for spec in coordinator_consumer_specs(
                        coordinator_consumer_spec(), MAX_PARTITIONS
                    )
                    for right in _consumer_rights(EVENT_STREAM, spec)
                ),
                *_anchor_rights(),
                *_evidence_write_rights(),
            ),
            subscribe=(
                f"{EVENT_PREFIX}.>",
                f"{QUERY_PREFIX}.>",
                f"{DLQ_PREFIX}.>",
                f"{inbox_prefix(me)}.>",
                # messages any consumer gave up on, dead-lettered by the coordinator
                f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{EVENT_STREAM}.*",
            ),
            allow_responses=True,
        )
    return Permissions(
        publish=(
            f"{EVENT_PREFIX}.{me}.>",
            f"{QUERY_PREFIX}.{me}.>",
            f"{DLQ_PREFIX}.{durable}.>",
            *_consumer_rights(EVENT_STREAM, agency_consumer_spec(me)),
        ),
        subscribe=(f"{inbox_prefix(me)}.>",),
    )


def _evidence_write_rights() -> tuple[str, ...]:
    """The hub's put into ``IPBUS_EVIDENCE``: its chunk and meta subjects.

    Only the coordinator has them. The bucket's stream must allow rollup headers (object
    metas need them), so a publish right on these subjects is the right to wipe the whole
    bucket (``Nats-Rollup: all``) or mark another's object deleted: no agency gets any
    right on the bucket; agencies upload through the coordinator's ``evidence_put``
    query and download through ``evidence_chunk``, need-to-know.
    """
    return (f"$O.{EVIDENCE_BUCKET}.C.>", f"$O.{EVIDENCE_BUCKET}.M.>")


_STREAM_ADMIN = ("CREATE", "UPDATE", "INFO", "MSG.GET")
"""The coordinator provisions the streams and may read a stored message; no DELETE/PURGE."""


def operator_permissions() -> Permissions:
    """Exactly what ``ipbus status``, ``dlq``, ``warnings``, ``referrals``, ``case show`` use."""
    return Permissions(
        publish=(
            f"{EVENT_PREFIX}.{OPERATOR}.>",  # replays of dead letters (services.runtime.bus.dlq)
            f"{QUERY_PREFIX}.{COORDINATOR}.>",  # the operator sees what the coordinator sees
            f"{JS_API}.STREAM.NAMES",
            f"{JS_API}.STREAM.LIST",
            *(f"{JS_API}.STREAM.INFO.{s}" for s in (EVENT_STREAM, DLQ_STREAM)),
            f"{JS_API}.CONSUMER.NAMES.{EVENT_STREAM}",
            f"{JS_API}.CONSUMER.LIST.{EVENT_STREAM}",
            f"{JS_API}.CONSUMER.INFO.{EVENT_STREAM}.*",
            f"{JS_API}.STREAM.MSG.GET.{DLQ_STREAM}",
            f"{JS_API}.STREAM.MSG.DELETE.{DLQ_STREAM}",  # a letter, once replayed
            # the latest audit anchor, for `ipbus audit verify|anchor`
            f"{JS_API}.STREAM.INFO.{AUDIT_ANCHOR_STREAM}",
            f"{JS_API}.STREAM.MSG.GET.{AUDIT_ANCHOR_STREAM}",
        ),
        subscribe=(f"{inbox_prefix(OPERATOR)}.>",),
    )


def _anchor_rights() -> tuple[str, ...]:
    """The coordinator alone publishes audit anchors; it may create their stream, never
    update it (limits could then drop anchors), delete from it or purge it."""
    return (
        AUDIT_ANCHOR_SUBJECT,
        *(
            f"{JS_API}.STREAM.{verb}.{AUDIT_ANCHOR_STREAM}"
            for verb in ("CREATE", "INFO", "MSG.GET")
        ),
    )


def _quote(value: str) -> str:
    return json.dumps(value)


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


def _user_block(title: str, rights: Permissions, nkey: str) -> str:
    lines = [
        f"    # {title}",
        "    {",
        f"      nkey: {_quote(nkey)}",
        "      permissions: {",
        f"        publish: {{ allow: {_list(rights.publish)} }}",
        f"        subscribe: {{ allow: {_list(rights.subscribe)} }}",
    ]
    if rights.allow_responses:
        lines.append('        allow_responses: { max: 1, expires: "1m" }')
    lines += ["      }", "    }"]
    return "\n".join(lines)


def _users(agency: Agency) -> list[str]:
    """The current key, and the previous one while a rotation's grace period lasts."""
    if agency.public_key is None:
        raise ValueError(
            f"{agency.id} has no public key: use the effective registry (<data dir>/agencies.toml)"
        )
    if agency.id == OPERATOR:
        raise ValueError(f"{OPERATOR!r} is reserved for the operator; rename that agency")
    title = f"{agency.id} ({agency.kind.value})"
    rights = agency_permissions(agency)
    revoked = {k.public_key for k in agency.keys if k.revoked_at is not None}
    blocks = []
    if agency.public_key not in revoked:
        blocks.append(_user_block(title, rights, agency.public_key))
    previous = agency.previous_public_key
    if previous is not None and previous != agency.public_key and previous not in revoked:
        blocks.append(
            _user_block(f"{title} — previous key, rotation grace period", rights, previous)
        )
    listed = {agency.public_key, previous}
    for period in agency.keys:  # the key history: every key not revoked may log in
        if period.public_key not in listed | revoked:
            listed.add(period.public_key)
            blocks.append(_user_block(f"{title} — from the key history", rights, period.public_key))
    return blocks


def _authorization(registry: Registry, operator_key: str | None) -> str:
    blocks = [block for agency in registry.agencies for block in _users(agency)]
    if operator_key is not None:
        blocks.append(
            _user_block("the operator (ipbus commands)", operator_permissions(), operator_key)
        )
    users = "\n".join(blocks)
    return f"authorization {{\n  users: [\n{users}\n  ]\n}}\n"


def _tls(tls: TlsFiles | None) -> str:
    if tls is None:
        return ""
    lines = [
        "tls {",
        f"  cert_file: {_quote(str(tls.cert_file))}",
        f"  key_file: {_quote(str(tls.key_file))}",
    ]
    if tls.ca_file is not None:
        lines.append(f"  ca_file: {_quote(str(tls.ca_file))}")
    if tls.verify:
        lines.append("  verify: true")
    lines.append("  timeout: 2")
    return "\n".join(lines) + "\n}\n"


HEADER = "# Generated by `ipbus nats-config` from the agency registry; do not edit by hand.\n"


def single_node_config(
    registry: Registry, *, tls: TlsFiles | None = None, operator_key: str | None = None
) -> str:
    """Authorization (and TLS) for one node; host, port and store come from the command line.

    ``operator_key``: the operator's public nkey (without it, no operator user).
    """
    return HEADER + "jetstream: enabled\n" + _tls(tls) + _authorization(registry, operator_key)


def cluster_config(
    registry: Registry,
    node: ClusterNode,
    peers: Iterable[ClusterNode],
    *,
    store_dir: str = "/data/jetstream",
    tls: TlsFiles | None = None,
    operator_key: str | None = None,
) -> str:
    """One node's configuration of a JetStream cluster (stream replicas 3)."""
    routes = [f"nats-route://{p.host}:{p.cluster_port}" for p in peers if p.name != node.name]
    return (
        HEADER
        + f"server_name: {_quote(node.name)}\n"
        + f"listen: {_quote(f'0.0.0.0:{node.client_port}')}\n"
        + f"jetstream {{ store_dir: {_quote(store_dir)} }}\n"
        + "cluster {\n"
        + '  name: "ipbus"\n'
        + f"  listen: {_quote(f'0.0.0.0:{node.cluster_port}')}\n"
        + f"  routes: {_list(routes)}\n"
        + "}\n"
        + _tls(tls)
        + _authorization(registry, operator_key)
    )


# --- The deployed cluster (issue 16): TLS everywhere, authenticated routes, limits --------

SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
CLIENT_CA = "ca.pem"
"""The bus CA: signs the server's certificate and every agency's client certificate."""
ROUTE_CERT = "route.pem"
ROUTE_KEY = "route-key.pem"
ROUTE_CA = "route-ca.pem"
"""A CA of its own for routes: an agency's client certificate cannot open a route."""
CLUSTER_SIZE = 3
DEPLOYED_ENV = (
    "IPBUS_NATS_NODE",
    "IPBUS_NATS_LISTEN",
    "IPBUS_NATS_MONITOR",
    "IPBUS_NATS_STORE",
    "IPBUS_NATS_CLUSTER_LISTEN",
    *(f"IPBUS_NATS_ROUTE_{i + 1}" for i in range(CLUSTER_SIZE)),
)
"""What differs per node; every node (compose, Kubernetes, the tests) runs the same file."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection may hold; nats-server applies them to every agency's client.

    nats-server's file-configured users carry no per-user connection count (only accounts
    and JWT users do), so ``max_connections`` caps the node as a whole (SECURITY.md).
    """

    max_connections: int = 512
    max_subscriptions: int = 256
    """Per connection: a service holds a handful (its inbox, its consumer, queries)."""
    max_pending_bytes: int = 32 * 1024 * 1024
    """Per connection: a slow consumer is cut off rather than growing the server's memory."""
    max_payload_bytes: int = 2 * 1024 * 1024
    max_file_store: str = "200GB"
    max_memory_store: str = "1GB"


def _deployed_limits(limits: ConnectionLimits) -> str:
    return (
        f"max_connections: {limits.max_connections}\n"
        f"max_subscriptions: {limits.max_subscriptions}\n"
        f"max_pending: {limits.max_pending_bytes}\n"
        f"max_payload: {limits.max_payload_bytes}\n"
        'write_deadline: "10s"\n'
    )


def deployed_config(
    registry: Registry,
    *,
    limits: ConnectionLimits | None = None,
    operator_key: str | None = None,
) -> str:
    """The one configuration every node of the deployed cluster runs.

    TLS files are named relative to the directory the server runs in (the mounted
    config directory); the node's name, addresses and routes come from the environment
    (:data:`DEPLOYED_ENV`). Clients need TLS and a certificate from the bus CA *and* their
    nkey; routes need TLS and a certificate from the route CA, both ways; the monitoring
    port listens where ``IPBUS_NATS_MONITOR`` says (loopback in the manifests).
    """
    limits = limits or ConnectionLimits()
    routes = "\n".join(f"    $IPBUS_NATS_ROUTE_{i + 1}" for i in range(CLUSTER_SIZE))
    return (
        HEADER
        + "# Per node, from the environment: "
        + ", ".join(DEPLOYED_ENV)
        + "\n"
        + "server_name: $IPBUS_NATS_NODE\n"
        + "listen: $IPBUS_NATS_LISTEN\n"
        + "http: $IPBUS_NATS_MONITOR\n"
        + _deployed_limits(limits)
        + "jetstream {\n"
        + "  store_dir: $IPBUS_NATS_STORE\n"
        + f"  max_memory_store: {limits.max_memory_store}\n"
        + f"  max_file_store: {limits.max_file_store}\n"
        + "}\n"
        + _tls(TlsFiles(Path(SERVER_CERT), Path(SERVER_KEY), Path(CLIENT_CA), verify=True))
        + "cluster {\n"
        + '  name: "ipbus"\n'
        + "  listen: $IPBUS_NATS_CLUSTER_LISTEN\n"
        + "  routes: [\n"
        + routes
        + "\n  ]\n"
        + "  # a node that comes back catches up from the others; give routes time to reconnect\n"
        + "  connect_retries: 120\n"
        + "  # clients keep to the names they were given, which the server certificate carries\n"
        + "  no_advertise: true\n"
        + "  "
        + _tls(TlsFiles(Path(ROUTE_CERT), Path(ROUTE_KEY), Path(ROUTE_CA), verify=True))
        .replace("\n", "\n  ")
        .rstrip()
        + "\n}\n"
        + _authorization(registry, operator_key)
    )
