"""The agency registry on disk, and the development keys that go with it (DESIGN §2).

The committed ``deploy/agencies.toml`` may leave ``public_key`` out. On first start a
development key is generated for each such agency into ``<data dir>/keys/<id>.nk``
(never committed), and the *effective* registry, with every key actually in use, is
written to ``<data dir>/agencies.toml`` so signatures can be checked from outside.
"""

import os
from pathlib import Path

from contracts.agencies import Registry, dump_registry, parse_registry
from services.runtime.bus.errors import ConfigurationError
from services.runtime.identity.signing import AgencyKey, load_or_create_key

__all__ = ["key_path", "load_agency_key", "load_registry", "prepare_registry"]


def load_registry(path: Path) -> Registry:
    """Parse the registry file, with a clear error when it is missing or wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"agency registry {path} not found (set IPBUS_REGISTRY_PATH)"
        ) from None
    try:
        return parse_registry(text)
    except ValueError as exc:
        raise ConfigurationError(f"agency registry {path}: {exc}") from exc


def key_path(keys_dir: Path, agency_id: str) -> Path:
    return keys_dir / f"{agency_id}.nk"


def prepare_registry(
    registry_path: Path, keys_dir: Path, effective_path: Path, *, generate_keys: bool = True
) -> Registry:
    """Fill in development keys for agencies without one; write the effective registry.

    Agencies that list a public key keep it: their seed must be provided in ``keys_dir``
    by whoever runs them (production), and is never generated here. Without
    ``generate_keys`` (production) nothing is generated at all: a seed already in
    ``keys_dir`` is used, an agency with neither stays without a key.
    """
    registry = load_registry(registry_path)
    generated: dict[str, str] = {}
    for agency in registry.agencies:
        path = key_path(keys_dir, agency.id)
        if agency.public_key is not None:
            continue
        if generate_keys:
            generated[agency.id] = load_or_create_key(path).public_key
        elif path.exists():
            generated[agency.id] = AgencyKey(path.read_bytes()).public_key
    effective = registry.with_public_keys(generated)
    effective_path.parent.mkdir(parents=True, exist_ok=True)
    # one temporary file per process: services started together all write this file
    temporary = effective_path.with_suffix(f".toml.{os.getpid()}.tmp")
    temporary.write_text(dump_registry(effective), encoding="utf-8")
    temporary.replace(effective_path)
    return effective


def load_agency_key(registry: Registry, keys_dir: Path, agency_id: str) -> AgencyKey:
    """The agency's signing key, checked against the public key the registry lists."""
    path = key_path(keys_dir, agency_id)
    if not path.exists():
        raise ConfigurationError(
            f"no signing key for {agency_id}: expected {path}. The agency's own site makes "
            f"it with `ipbus keys new {agency_id} --keys-dir {path.parent}` and hands the "
            "printed public key to the registry's keeper; it is never generated outside "
            "development (IPBUS_ENV)"
        )
    key = AgencyKey(path.read_bytes())
    listed = registry.get(agency_id).public_key
    if listed != key.public_key:
        raise ConfigurationError(
            f"the key in {path} ({key.public_key[:10]}…) is not the one the registry lists "
            f"for {agency_id} ({(listed or 'none')[:10]}…)"
        )
    return key
