"""The pseudonymisation secret: generated once, private, reused."""

import stat
from pathlib import Path

import pytest

from services.runtime.privacy import PSEUDONYM_KEY_FILE, load_pseudonym_key


def test_the_key_is_generated_once_private_and_then_reused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = load_pseudonym_key(keys)
    assert len(first) == 32
    assert stat.S_IMODE((keys / PSEUDONYM_KEY_FILE).stat().st_mode) == 0o600
    assert load_pseudonym_key(keys) == first
    assert load_pseudonym_key(tmp_path / "elsewhere") != first


def test_a_truncated_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / PSEUDONYM_KEY_FILE).write_bytes(b"short")
    with pytest.raises(ValueError, match="needs 16"):
        load_pseudonym_key(tmp_path)
