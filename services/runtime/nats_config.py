"""nats-server configuration generated from the agency registry (DESIGN §2, §3).

Pure: a :class:`~contracts.agencies.Registry` in, configuration text out. One nkey user
per agency — the same nkey that signs its events — with the least rights its job needs:

* agency X publishes only ``ipbus.v1.X.>`` (its own events), ``ipbus.query.X.>`` (its own
  questions) and ``ipbus.dlq.agency-X.>`` (what it refused); it creates, reads and acks
  only its own durable consumer ``agency-X``; it receives only on its own reply inbox
  ``_INBOX_X.>`` (clients pass ``inbox_prefix``, see :func:`inbox_prefix`);
* the coordinator reads every event, publishes as itself, answers queries (responses only
  to the requests it received) and is the one identity that declares the streams;
* only the coordinator publishes audit anchors (``ipbus.audit.anchor``), and nobody may
  update, delete from or purge their stream (SECURITY.md);
* nobody may delete a stream or purge it; anonymous clients are refused (there is no
  ``no_auth_user``).
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contracts.agencies import Agency, AgencyKind, Registry
from contracts.subjects import (
    AUDIT_ANCHOR_STREAM,
    AUDIT_ANCHOR_SUBJECT,
    DLQ_PREFIX,
    DLQ_STREAM,
    EVENT_PREFIX,
    EVENT_STREAM,
    QUERY_PREFIX,
    agency_consumer,
)
from services.runtime.streams import ConsumerSpec, agency_consumer_spec, coordinator_consumer_spec

__all__ = [
    "ClusterNode",
    "Permissions",
    "TlsFiles",
    "agency_permissions",
    "cluster_config",
    "inbox_prefix",
    "single_node_config",
]

JS_API = "$JS.API"


def inbox_prefix(agency_id: str) -> str:
    """The reply-inbox prefix an agency's clients must use; the only place it may listen."""
    return f"_INBOX_{agency_id}"


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
        streams = (EVENT_STREAM, DLQ_STREAM)
        return Permissions(
            publish=(
                f"{EVENT_PREFIX}.{me}.>",
                f"{QUERY_PREFIX}.{me}.>",
                f"{DLQ_PREFIX}.>",
                f"{JS_API}.INFO",
                f"{JS_API}.STREAM.NAMES",
                f"{JS_API}.STREAM.LIST",
                *(f"{JS_API}.STREAM.{verb}.{s}" for s in streams for verb in _STREAM_ADMIN),
                *_consumer_rights(EVENT_STREAM, coordinator_consumer_spec()),
                *_anchor_rights(),
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


_STREAM_ADMIN = ("CREATE", "UPDATE", "INFO", "MSG.GET")
"""The coordinator provisions the streams and may read a stored message; no DELETE/PURGE."""


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


def _user_block(agency: Agency, nkey: str, note: str) -> str:
    rights = agency_permissions(agency)
    lines = [
        f"    # {agency.id} ({agency.kind.value}){note}",
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
    blocks = [_user_block(agency, agency.public_key, "")]
    previous = agency.previous_public_key
    if previous is not None and previous != agency.public_key:
        blocks.append(_user_block(agency, previous, " — previous key, rotation grace period"))
    return blocks


def _authorization(registry: Registry) -> str:
    users = "\n".join(block for agency in registry.agencies for block in _users(agency))
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


def single_node_config(registry: Registry, *, tls: TlsFiles | None = None) -> str:
    """Authorization (and TLS) for one node; host, port and store come from the command line."""
    return HEADER + "jetstream: enabled\n" + _tls(tls) + _authorization(registry)


def cluster_config(
    registry: Registry,
    node: ClusterNode,
    peers: Iterable[ClusterNode],
    *,
    store_dir: str = "/data/jetstream",
    tls: TlsFiles | None = None,
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
        + _authorization(registry)
    )
