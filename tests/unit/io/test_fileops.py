"""The one atomic write: all or nothing, and the one file hash."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest

from orthogui.core.errors import PathError
from orthogui.io.fileops import (
    atomic_copy,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    file_sha256,
)


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second, longer")
    assert target.read_text() == "second, longer"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    atomic_write_bytes(target, b"old")

    def half_then_fail(f: object) -> None:
        f.write(b"new but incomplete")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_copy_and_hash(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    data = bytes(range(256)) * 5000
    src.write_bytes(data)
    dst = atomic_copy(src, tmp_path / "out" / "dst.bin")
    assert dst.read_bytes() == data
    assert file_sha256(dst) == hashlib.sha256(data).hexdigest()


def test_path_error_names_file_and_reason_and_pickles() -> None:
    err = PathError(Path("/x/y.dcm"), "truncated")
    assert str(err) == "/x/y.dcm: truncated"
    back = pickle.loads(pickle.dumps(err))
    assert (back.path, back.reason, str(back)) == (err.path, err.reason, str(err))
