"""``ipbus nats-config``: server configuration and per-agency credentials from the registry."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.agencies import dump_registry
from services.cli.sites import site_instructions, write_site_configs
from services.runtime.errors import ConfigurationError
from services.runtime.nats_config import (
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
    written = [key_path(out, agency_id) for agency_id in generated]
    files = {
        out / "agencies.toml": dump_registry(registry),
        out / "nats.conf": single_node_config(registry, tls=tls),
        **{
            out / "cluster" / f"{node.name}.conf": cluster_config(
                registry, node, CLUSTER_NODES, tls=tls
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
    site: Annotated[
        list[str] | None,
        typer.Option(help="an agency on its own leaf-node site (repeat for several)"),
    ] = None,
    hub_url: Annotated[
        list[str] | None,
        typer.Option(help="where sites reach the hub's leafnode port (repeat per hub node)"),
    ] = None,
    hub_domain: Annotated[str, typer.Option(help="the hub's JetStream domain")] = "hub",
    leaf_port: Annotated[int, typer.Option(help="the hub's leafnode port")] = 7422,
) -> None:
    """Write nats-server configs (single node and 3-node cluster) with one nkey user per
    agency and least-privilege permissions, and one seed file <id>.nk per agency."""
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
    if site:
        try:
            written += write_site_configs(
                out / "agencies.toml",
                out,
                site,
                hub_urls=hub_url
                or [f"nats-leaf://{node.host}:{leaf_port}" for node in CLUSTER_NODES],
                hub_domain=hub_domain,
                leaf_port=leaf_port,
                tls=tls,
                cluster=CLUSTER_NODES,
            )
        except (ConfigurationError, LookupError, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=2) from None
    for path in written:
        console.print(f"wrote {path}")
    if site:
        console.print(site_instructions(out, site, hub_domain))
    console.print(
        "Seed files (*.nk) are secrets: hand each agency its own, never commit them. Start: "
        f"nats-server -c {out / 'nats.conf'} -sd <store dir>"
    )
