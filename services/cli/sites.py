"""``ipbus nats-config --site AGENCY``: the leaf-node configuration of an agency's own site
and the hub's side of the link (DESIGN §7; services/runtime/server/nats_sites.py)."""

from collections.abc import Sequence
from pathlib import Path

from services.runtime.identity import load_registry
from services.runtime.server import SEED_VARIABLE, ClusterNode, TlsFiles, hub_config, site_config

__all__ = ["site_instructions", "write_site_configs"]


def write_site_configs(
    registry_path: Path,
    out: Path,
    sites: Sequence[str],
    *,
    hub_urls: Sequence[str],
    hub_domain: str,
    leaf_port: int,
    tls: TlsFiles | None = None,
    cluster: Sequence[ClusterNode] = (),
) -> list[Path]:
    """``out/hub.conf`` (leafnodes listen, the hub's domain, sourcing rights of each site's
    agency), ``out/cluster/hub-<node>.conf`` per node of a hub cluster, and
    ``out/sites/<agency>/leaf.conf`` per site (beside the site's own secrets).
    ``registry_path`` must hold the keys
    in use (the effective registry ``write_nats_config`` writes)."""
    registry = load_registry(registry_path)
    for agency_id in sites:
        registry.get(agency_id)  # an unknown agency fails here, with the registry's message
    files = {
        out / "hub.conf": hub_config(
            registry, sites, hub_domain=hub_domain, leaf_port=leaf_port, tls=tls
        ),
        **{
            out / "cluster" / f"hub-{node.name}.conf": hub_config(
                registry,
                sites,
                hub_domain=hub_domain,
                leaf_port=leaf_port,
                tls=tls,
                node=node,
                peers=cluster,
            )
            for node in cluster
        },
        **{
            out / "sites" / agency_id / "leaf.conf": site_config(
                registry,
                agency_id,
                hub_urls=hub_urls,
                hub_ca=str(tls.ca_file) if tls and tls.ca_file else None,
            )
            for agency_id in sites
        },
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def site_instructions(out: Path, sites: Sequence[str], hub_domain: str) -> str:
    """How to start the hub and a site, and which settings their services need."""
    first = sites[0]
    return (
        f"Hub: nats-server -c {out / 'hub.conf'} -sd <store>; the coordinator with "
        f"IPBUS_SITES={','.join(sites)}. Site {first}: {SEED_VARIABLE}=<its seed> "
        f"nats-server -c {out / 'sites' / first / 'leaf.conf'} -sd <store>; its services "
        f"with IPBUS_NATS_URL=<the site server> IPBUS_HUB_DOMAIN={hub_domain} "
        "IPBUS_NATS_AUTH=nkey."
    )
