"""Private files: secrets created once and whole; data, logs and keys 0600 under 0700.

Everything the bus writes under its data directory (SQLite files, logs, keys, the embedded
server's store) may hold personal data or secrets, so nobody but its owner may read it.
Directories the bus creates are 0700 whatever the umask; a directory that already exists is
tightened only when it is the bus's own (``tighten=True``), never a shared parent like /tmp.
"""

import contextlib
import os
import secrets
from pathlib import Path

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "create_once",
    "open_private",
    "private_dir",
    "touch_private",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def create_once(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` (mode 0600) unless the file already exists.

    The bytes go to a private temporary file first, which is then hard-linked into place:
    another process never sees a half-written file, and if two race, one wins and the
    other keeps the winner's content.
    """
    private_dir(path.parent, tighten=True)  # a keys directory: the bus's own
    if path.exists():
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: its file stands
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """``path`` as a directory; every directory created on the way is 0700."""
    missing = []
    here = path
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    if tighten and not missing:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def open_private(path: Path) -> int:
    """Create (0600) or open ``path`` for appending; an existing file is tightened to 0600.

    Returns the descriptor, for ``os.fdopen`` or a child process's output.
    """
    private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    return descriptor


def touch_private(path: Path) -> None:
    """Create ``path`` empty (0600) if missing, before a library creates it world-readable."""
    os.close(open_private(path))
