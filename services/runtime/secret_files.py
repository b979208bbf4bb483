"""Secret files created once, whole, even when several services start at the same moment."""

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["create_once"]


def create_once(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` (mode 0600) unless the file already exists.

    The bytes go to a private temporary file first, which is then hard-linked into place:
    another process never sees a half-written file, and if two race, one wins and the
    other keeps the winner's content.
    """
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: its file stands
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
