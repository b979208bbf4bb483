"""``ipbus nats-config``: server configuration and per-agency credentials from the registry."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.agencies import dump_registry
from services.runtime.errors import ConfigurationError
from services.runtime.nats_config import (
    OPERATOR,
    ClusterNode,
    TlsFiles,
    cluster_config,
    single_node_config,
)
from services.runtime.registry import key_path, load_registry
from services.runtime.signing import load_or_create_key

__all__ = ["CLUSTER_NODES", "nats_config", "write_nats_config"]

console = Console(soft_wrap=True)

CLUSTER_NODES = tuple(
    ClusterNode(name=f"nats-{i}", host=f"nats-{i}", client_port=4222, cluster_port=6222)
    for i in (1, 2, 3)
)


def write_nats_config(registry_path: Path, out: Path, tls: TlsFiles | None = None) -> list[Path]:
    """Write ``out/nats.conf``, ``out/cluster/nats-N.conf``, ``out/<id>.nk`` and the registry.

    The operator's seed is ``out/operator.nk`` (give it to the ``ipbus`` commands as
    ``IPBUS_OPERATOR_CREDS``).

    Agencies the registry lists without a public key get a new development seed in
    ``out/<id>.nk`` (kept if already there); agencies with a listed key hold their seed
    themselves and get no file. Returns the files written.
    """
    registry = load_registry(registry_path)
    out.mkdir(parents=True, exist_ok=True)
    generated = {
        agency.id: load_or_create_key(key_path(out, agency.id)).public_key
        for agency in registry.agencies
        if agency.public_key is None
    }
    registry = registry.with_public_keys(generated)
    operator = load_or_create_key(key_path(out, OPERATOR)).public_key  # the ipbus commands
    written = [key_path(out, agency_id) for agency_id in (*generated, OPERATOR)]
    files = {
        out / "agencies.toml": dump_registry(registry),
        out / "nats.conf": single_node_config(registry, tls=tls, operator_key=operator),
        **{
            out / "cluster" / f"{node.name}.conf": cluster_config(
                registry, node, CLUSTER_NODES, tls=tls, operator_key=operator
            )
            for node in CLUSTER_NODES
        },
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def nats_config(
    registry: Annotated[Path, typer.Option(help="the agency registry")] = Path(
        "deploy/agencies.toml"
    ),
    out: Annotated[Path, typer.Option(help="directory to write into")] = Path("var/nats-config"),
    tls_cert: Annotated[Path | None, typer.Option(help="server certificate (PEM)")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="server private key (PEM)")] = None,
    tls_ca: Annotated[Path | None, typer.Option(help="CA for client certificates")] = None,
    tls_verify: Annotated[bool, typer.Option(help="require client certificates")] = False,
) -> None:
    """Write nats-server configs (single node and 3-node cluster) with one nkey user per
    agency and least-privilege permissions, one seed file <id>.nk per agency, and the
    operator's seed operator.nk (IPBUS_OPERATOR_CREDS for the ipbus commands)."""
    if (tls_cert is None) != (tls_key is None):
        console.print("[red]error:[/red] --tls-cert and --tls-key go together")
        raise typer.Exit(code=2)
    tls = (
        TlsFiles(tls_cert.resolve(), tls_key.resolve(), tls_ca and tls_ca.resolve(), tls_verify)
        if tls_cert is not None and tls_key is not None
        else None
    )
    try:
        written = write_nats_config(registry, out, tls)
    except (ConfigurationError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    for path in written:
        console.print(f"wrote {path}")
    console.print(
        "Seed files (*.nk) are secrets: hand each agency its own, never commit them. Start: "
        f"nats-server -c {out / 'nats.conf'} -sd <store dir>"
    )
