"""Named gateway tokens, one per agency system, stored hashed, each with its scopes.

An agency runs several systems against its gateway (the case system submits, a dashboard
only reads cases); each gets its own token, so one can be revoked or rotated without the
others, and the log names the system behind every request. The tokens file
(``IPBUS_GATEWAY_TOKENS_PATH``) holds only SHA-256 digests — a token is shown once, when it
is made (``ipbus gateway-token add``) — and is read again whenever it changes: adding,
rotating or revoking a token needs no restart.

>>> tokens = GatewayTokens.from_entries([TokenEntry("dashboard", digest("t"), ("read_cases",))])
>>> tokens.named("t").name, tokens.named("t").scopes, tokens.named("other")
('dashboard', ('read_cases',), None)
"""

import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "GatewayTokens",
    "Scope",
    "TokenEntry",
    "add_token",
    "digest",
    "remove_token",
]


class Scope(StrEnum):
    """What a token may do at the gateway."""

    SUBMIT = "submit"
    """``POST /events``."""
    READ_INBOX = "read_inbox"
    """``GET /inbox`` and ``POST /inbox/{id}/ack``."""
    READ_CASES = "read_cases"
    """``GET /cases/{id}``."""


ALL_SCOPES = tuple(Scope)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenEntry:
    """One system's token: its name (logged), the token's SHA-256, its scopes."""

    name: str
    sha256: str
    scopes: tuple[str, ...]


class GatewayTokens:
    """The tokens a gateway accepts; from a file re-read when it changes, or given."""

    def __init__(self, path: Path | None = None, extra: Sequence[TokenEntry] = ()) -> None:
        self.path = path
        self._extra = tuple(extra)
        self._stamp: tuple[int, int, int] | None = None
        self._by_digest: dict[str, TokenEntry] = {e.sha256: e for e in self._extra}

    @classmethod
    def from_entries(cls, entries: Sequence[TokenEntry]) -> "GatewayTokens":
        return cls(None, entries)

    @property
    def extra(self) -> tuple[TokenEntry, ...]:
        """The entries given in code (not from the file)."""
        return self._extra

    def named(self, token: str) -> TokenEntry | None:
        """The entry of ``token``, or None; the file is read again if it changed."""
        self._refresh()
        return self._by_digest.get(digest(token))

    def __bool__(self) -> bool:
        self._refresh()
        return bool(self._by_digest) or self.path is not None

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            stamp = None
        else:
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # a rewrite is a new inode
        if stamp == self._stamp and self._stamp is not None:
            return
        entries = [*self._extra, *(read_tokens(self.path) if stamp is not None else [])]
        self._by_digest = {entry.sha256: entry for entry in entries}
        self._stamp = stamp


def read_tokens(path: Path) -> list[TokenEntry]:
    """The entries of a tokens file (``{"tokens": [{"name", "sha256", "scopes"}]}``)."""
    document = json.loads(path.read_text() or "{}")
    entries = []
    for raw in document.get("tokens", []):
        scopes = tuple(Scope(scope).value for scope in raw["scopes"])
        entries.append(TokenEntry(str(raw["name"]), str(raw["sha256"]), scopes))
    return entries


def _write(path: Path, entries: Iterable[TokenEntry]) -> None:
    document = {
        "tokens": [{"name": e.name, "sha256": e.sha256, "scopes": list(e.scopes)} for e in entries]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    os.chmod(partial, 0o600)
    partial.replace(path)  # a gateway reading it sees the old file or the new, never half


def add_token(path: Path, name: str, scopes: Sequence[str]) -> str:
    """Make a token for system ``name`` (replacing its old one: a rotation); returns it.

    Only its digest is written: the token is shown to the operator once and then gone.
    """
    token = "ipbus_" + secrets.token_urlsafe(32)
    kept = [e for e in (read_tokens(path) if path.exists() else []) if e.name != name]
    entry = TokenEntry(name, digest(token), tuple(Scope(s).value for s in scopes))
    _write(path, [*kept, entry])
    return token


def remove_token(path: Path, name: str) -> bool:
    """Revoke system ``name``'s token; False if it had none."""
    entries = read_tokens(path) if path.exists() else []
    kept = [e for e in entries if e.name != name]
    _write(path, kept)
    return len(kept) != len(entries)
