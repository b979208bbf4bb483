"""``ipbus nats-config`` and ``ipbus keys``: server configuration, TLS and keys that stay home.

``nats-config`` writes what the manifests mount (``deploy/README`` and SECURITY.md):

* ``server/`` — every NATS node's directory: ``nats.conf`` (:func:`deployed_config`) and,
  with ``--tls``, the server and route certificates and the two CAs' certificates;
* ``sites/<id>/`` — agency ``<id>``'s key directory and nothing else's: its development seed
  (only for agencies the registry lists without a key), its client certificate, the bus CA,
  and the pseudonym key (every site but the overseas agency's: :func:`_write_pseudonym_key`);
* ``ca/`` — the CAs' private keys: the operator keeps them, nothing mounts them;
* ``agencies.toml`` — the effective registry (public keys only), ``nats.conf`` and
  ``cluster/`` — the single-node and fixed-host variants.
"""

import datetime
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from contracts.agencies import AgencyKind, Registry, dump_registry
from services.cli.sites import site_instructions, write_site_configs
from services.runtime.bus import ConfigurationError
from services.runtime.identity import (
    create_once,
    generate_seed,
    key_path,
    load_or_create_key,
    load_registry,
)
from services.runtime.privacy import PSEUDONYM_KEY_FILE
from services.runtime.server import (
    CLIENT_CA,
    OPERATOR,
    ROUTE_CA,
    ROUTE_CERT,
    ROUTE_KEY,
    SERVER_CERT,
    SERVER_KEY,
    CertificateAuthority,
    ClusterNode,
    TlsFiles,
    cluster_config,
    deployed_config,
    single_node_config,
)
from services.runtime.storage import roles_sql, service_role

__all__ = [
    "CLIENT_CERT",
    "CLIENT_KEY",
    "CLUSTER_NODES",
    "DEFAULT_TLS_HOSTS",
    "SITE_CA",
    "keys_app",
    "nats_config",
    "site_dir",
    "write_nats_config",
]

console = Console(soft_wrap=True)
notes = Console(soft_wrap=True, stderr=True)

CLUSTER_NODES = tuple(
    ClusterNode(name=f"nats-{i}", host=f"nats-{i}", client_port=4222, cluster_port=6222)
    for i in (1, 2, 3)
)
DEFAULT_TLS_HOSTS = (
    "nats",
    *(f"nats-{i}" for i in (1, 2, 3)),  # compose
    *(f"nats-{i}.nats" for i in (0, 1, 2)),  # the Kubernetes StatefulSet
    *(f"nats-{i}.nats.ipbus.svc.cluster.local" for i in (0, 1, 2)),
    "nats.ipbus.svc.cluster.local",
    "localhost",
    "127.0.0.1",
)
"""Names the server and route certificates answer to; ``--tls-host`` replaces them."""
SITE_CA = "nats-ca.pem"
CLIENT_CERT = "nats-client.pem"
CLIENT_KEY = "nats-client-key.pem"


def site_dir(out: Path, agency_id: str) -> Path:
    """Agency ``agency_id``'s key directory: what its pods mount, and only they."""
    return out / "sites" / agency_id


def _write_secret(path: Path, content: bytes) -> Path:
    create_once(path, content)
    return path


def _write_tls(out: Path, registry: Registry, hosts: Sequence[str]) -> list[Path]:
    """Two CAs, the server and route certificates, one client certificate per agency.

    Kept as they are when the bus CA already exists (re-running does not re-key a cluster).
    """
    server = out / "server"
    if (server / CLIENT_CA).exists():
        return []
    now = datetime.datetime.now(datetime.UTC)
    bus_ca = CertificateAuthority("ipbus bus CA (development)", now=now)
    route_ca = CertificateAuthority("ipbus route CA (development)", now=now)
    server_cert = bus_ca.issue("nats", hosts=hosts, server=True, client=False)
    route_cert = route_ca.issue("nats-route", hosts=hosts, server=True, client=True)
    written = [
        _write_secret(out / "ca" / "ca-key.pem", bus_ca.key_pem),
        _write_secret(out / "ca" / "route-ca-key.pem", route_ca.key_pem),
        _write_secret(server / SERVER_KEY, server_cert.key_pem),
        _write_secret(server / ROUTE_KEY, route_cert.key_pem),
    ]
    public = {
        server / CLIENT_CA: bus_ca.cert_pem,
        server / ROUTE_CA: route_ca.cert_pem,
        server / SERVER_CERT: server_cert.cert_pem,
        server / ROUTE_CERT: route_cert.cert_pem,
    }
    for agency in registry.agencies:
        client = bus_ca.issue(agency.id, server=False, client=True)
        site = site_dir(out, agency.id)
        written.append(_write_secret(site / CLIENT_KEY, client.key_pem))
        public[site / CLIENT_CERT] = client.cert_pem
        public[site / SITE_CA] = bus_ca.cert_pem
    for path, content in public.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


DATABASE_HOST = "postgres:5432/ipbus"
"""Where the manifests' PostgreSQL listens (compose service and Kubernetes Service ``postgres``)."""


def _write_database(out: Path, registry: Registry) -> list[Path]:
    """One login role per service (``database/roles.sql``, PostgreSQL's init script) and
    each service's own ``IPBUS_DATABASE_URL`` (``database/<id>.env``). Kept once written."""
    folder = out / "database"
    script = folder / "roles.sql"
    if script.exists():
        return []
    passwords = {agency.id: secrets.token_urlsafe(24) for agency in registry.agencies}
    written = []
    for agency_id, password in passwords.items():
        url = f"postgresql+asyncpg://{service_role(agency_id)}:{password}@{DATABASE_HOST}"
        written.append(
            _write_secret(folder / f"{agency_id}.env", f"IPBUS_DATABASE_URL={url}\n".encode())
        )
    written.append(_write_secret(script, roles_sql(passwords, passwords).encode()))
    return written


def _write_pseudonym_key(out: Path, registry: Registry) -> list[Path]:
    """One pseudonymisation key, in every site that may send abroad, and never abroad.

    Whoever sends to an overseas agency minimises with it (the coordinator's warnings, an
    agency's overseas-assistance referral), so the pseudonyms correlate across senders; the
    overseas agency must not hold it, or it could test a guess against a pseudonym. Nor
    does a rights-holder desk, a private party that sends nothing abroad.
    """
    key = out / "ca" / PSEUDONYM_KEY_FILE  # the operator's copy, kept with the CA keys
    create_once(key, secrets.token_bytes(32))
    return [
        _write_secret(site_dir(out, agency.id) / PSEUDONYM_KEY_FILE, key.read_bytes())
        for agency in registry.agencies
        if agency.kind not in (AgencyKind.OVERSEAS, AgencyKind.RIGHTS_HOLDERS)
    ]


def write_nats_config(
    registry_path: Path,
    out: Path,
    tls: TlsFiles | None = None,
    *,
    dev_tls: bool = False,
    tls_hosts: Iterable[str] = DEFAULT_TLS_HOSTS,
) -> list[Path]:
    """Write the configurations, each agency's site directory and the effective registry.

    Agencies the registry lists without a public key get a new development seed in their
    own ``sites/<id>/<id>.nk`` (kept if already there); agencies with a listed key hold
    their seed themselves and get none. The operator's seed (the ``ipbus`` commands'
    ``IPBUS_OPERATOR_CREDS``) is ``operator/operator.nk``. Returns the files written.
    """
    registry = load_registry(registry_path)
    out.mkdir(parents=True, exist_ok=True)
    generated = {
        agency.id: load_or_create_key(key_path(site_dir(out, agency.id), agency.id)).public_key
        for agency in registry.agencies
        if agency.public_key is None
    }
    registry = registry.with_public_keys(generated)
    operator_seed = key_path(out / OPERATOR, OPERATOR)  # the ipbus commands, nobody else
    operator = load_or_create_key(operator_seed).public_key
    written = [key_path(site_dir(out, agency_id), agency_id) for agency_id in generated]
    written.append(operator_seed)
    written += _write_pseudonym_key(out, registry)
    if dev_tls:
        written += _write_tls(out, registry, list(tls_hosts))
    written += _write_database(out, registry)
    files = {
        out / "agencies.toml": dump_registry(registry),
        out / "nats.conf": single_node_config(registry, tls=tls, operator_key=operator),
        out / "server" / "nats.conf": deployed_config(registry, operator_key=operator),
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
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="make a development CA, server, route and per-agency client certificates",
        ),
    ] = False,
    tls_host: Annotated[
        list[str] | None,
        typer.Option(help="a name the server certificate answers to (repeat; has defaults)"),
    ] = None,
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
    """Write nats-server configs (the deployed cluster's, single node, fixed 3-node) with one
    nkey user per agency and least-privilege permissions, one key directory per agency site
    (sites/<id>/, each holding only that agency's secrets), and the operator's seed
    operator/operator.nk (IPBUS_OPERATOR_CREDS for the ipbus commands)."""
    if (tls_cert is None) != (tls_key is None):
        console.print("[red]error:[/red] --tls-cert and --tls-key go together")
        raise typer.Exit(code=2)
    files = (
        TlsFiles(tls_cert.resolve(), tls_key.resolve(), tls_ca and tls_ca.resolve(), tls_verify)
        if tls_cert is not None and tls_key is not None
        else None
    )
    try:
        written = write_nats_config(
            registry, out, files, dev_tls=tls, tls_hosts=tls_host or DEFAULT_TLS_HOSTS
        )
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
                tls=files,
                cluster=CLUSTER_NODES,
            )
        except (ConfigurationError, LookupError, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=2) from None
    for path in written:
        console.print(f"wrote {path}")
    seeds = [path for path in written if path.suffix == ".nk"]
    if seeds:
        console.print(
            f"[yellow]{len(seeds)} development seed(s) made here[/yellow] for agencies the "
            "registry lists without a key. In production each site runs `ipbus keys new <id>` "
            "itself and the registry lists only public keys."
        )
    if site:
        console.print(site_instructions(out, site, hub_domain))
    console.print(
        f"Mount {out / 'server'} on every NATS node (the manifests do), and "
        f"{out / 'sites'}/<id>/ on agency <id>'s services only. Seeds (*.nk), *-key.pem and "
        f"pseudonym.key are secrets; {out / 'ca'} stays with the operator. Never commit them."
    )


keys_app = typer.Typer(help="An agency's signing key, made at its own site.", no_args_is_help=True)


@keys_app.command("new")
def keys_new(
    agency: Annotated[str, typer.Argument(help="the agency id the key is for")],
    keys_dir: Annotated[
        Path, typer.Option(help="this site's key directory (IPBUS_DATA_DIR/keys)")
    ] = Path("var/keys"),
) -> None:
    """Make AGENCY's seed in this site's key directory (mode 0600) and print only its
    public key, for the registry's keeper. The seed never leaves the site."""
    path = key_path(keys_dir, agency)
    if path.exists():
        console.print(
            f"[red]error:[/red] {path} exists; move it away first to rotate (SECURITY.md)"
        )
        raise typer.Exit(code=2)
    create_once(path, generate_seed() + b"\n")
    public_key = load_or_create_key(path).public_key
    print(public_key)  # alone on stdout, for scripts
    notes.print(
        f"seed written to {path} (0600). Send the public key above to the registry's keeper:\n"
        f'  [[agencies.keys]]\n  public_key = "{public_key}"\n  valid_from = <now>',
        markup=False,
    )
