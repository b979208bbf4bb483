"""The secret behind the keyed pseudonyms of data sent abroad, generated on first use.

It lives beside the development nkeys under ``<data dir>/keys/`` (never committed). Agencies
that want the overseas centre to correlate pseudonyms across senders share one file.
"""

import secrets
from pathlib import Path

from services.runtime.identity.secret_files import create_once

__all__ = ["PSEUDONYM_KEY_FILE", "load_pseudonym_key"]

PSEUDONYM_KEY_FILE = "pseudonym.key"
_KEY_BYTES = 32


def load_pseudonym_key(keys_dir: Path, *, create: bool = True) -> bytes:
    """The key in ``keys_dir``, created (mode 0600) if there is none yet and ``create``.

    Without ``create`` (production) a missing key is ``b""``: the service cannot send to
    an overseas agency (:class:`~services.runtime.bus.errors.ConfigurationError` then). The
    manifests give it to every site but the overseas agency's.
    """
    path = keys_dir / PSEUDONYM_KEY_FILE
    if not create and not path.exists():
        return b""
    if create:
        create_once(path, secrets.token_bytes(_KEY_BYTES))
    key = path.read_bytes()
    if len(key) < 16:
        raise ValueError(f"{path} holds {len(key)} bytes; a pseudonymisation key needs 16+")
    return key
