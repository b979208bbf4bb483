"""A secret file is created once and whole, whoever races to create it."""

import os
import stat
import threading
from pathlib import Path

from services.runtime.identity import create_once


def test_racing_writers_leave_one_whole_file_that_everyone_reads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pseudonym.key"
    contents = [bytes([n]) * 32 for n in range(16)]
    start = threading.Barrier(len(contents))

    def write(content: bytes) -> None:
        start.wait()
        create_once(path, content)

    threads = [threading.Thread(target=write, args=(c,)) for c in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert path.read_bytes() in contents
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]  # no temporaries left


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "seed.nk"
    create_once(path, b"first")
    create_once(path, b"second")
    assert path.read_bytes() == b"first"
