"""A fixed-seed slice of ``bench/fuzz_readers.py``: no crash, hang, raw error or big allocation.

The full run (3,000 mutants) is the benchmark; these 60 keep the guarantee in the suite, and a
fake reader package proves the harness tells each failure apart.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tests.unit._bench import load_bench


@pytest.fixture(scope="module")
def fuzz_readers() -> ModuleType:
    return load_bench("fuzz_readers")


def test_sixty_mutants_are_refused_cleanly_or_read(fuzz_readers: ModuleType) -> None:
    report = fuzz_readers.fuzz(n=60, seed=7, timeout_s=60)
    counts = report["outcomes"]
    assert sum(counts.values()) == 60
    bad = {k: counts[k] for k in ("raw_error", "crash", "hang", "big_allocation", "silent_damage")}
    assert not any(bad.values()), report
    assert counts["refused"] >= 10 and counts["success"] >= 10  # both paths were exercised
    assert len(report["by_seed"]) == 10


def test_mutants_are_reproducible_and_cover_every_kind(
    fuzz_readers: ModuleType, tmp_path: Path
) -> None:
    seeds = fuzz_readers.load_seeds(tmp_path)
    first = [fuzz_readers.mutant(seeds, i, 3) for i in range(60)]
    assert first == [fuzz_readers.mutant(seeds, i, 3) for i in range(60)]
    assert {m.kind for m in first} == set(fuzz_readers.MUTATORS)
    by_name = {s.name: s.data for s in seeds}
    assert all(m.content != by_name[m.seed] for m in first)


FAKE_READERS = """
import os, time

class PanicException(BaseException):
    pass

def pixel_sha256(stored):
    return "0" * 64

def read_radiograph(path):
    what = open(path, "rb").read().decode()
    if what == "refuse":
        from orthogui.core.radiograph import RadiographError
        raise RadiographError(path, "no")
    if what == "raw":
        raise ValueError("a raw error")
    if what == "panic":
        raise PanicException("index out of bounds")
    if what == "abort":
        os.abort()
    if what == "hang":
        time.sleep(60)
    if what == "memory":
        raise MemoryError()
    class Radiograph:
        stored = None
        warnings = ()
    return Radiograph()
"""


def test_the_harness_tells_every_outcome_apart(fuzz_readers: ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for package in ("orthogui", "orthogui/core", "orthogui/io", "orthogui/io/readers"):
        (src / package).mkdir(parents=True)
        (src / package / "__init__.py").write_text("")
    (src / "orthogui/core/radiograph.py").write_text(
        textwrap.dedent(
            """
            class RadiographError(Exception):
                def __init__(self, path, reason):
                    super().__init__(f"{path}: {reason}")
            """
        )
    )
    (src / "orthogui/io/readers/__init__.py").write_text(FAKE_READERS)
    worker = fuzz_readers.Worker(src)
    seen = {}
    try:
        for what in ("refuse", "ok", "raw", "panic", "abort", "ok", "hang", "memory", "ok"):
            path = tmp_path / "mutant.bin"
            path.write_text(what)
            mutant = fuzz_readers.Mutant(0, "seed", "bitflip", b"tiny")
            seen[what] = fuzz_readers.classify(worker.read(path, timeout_s=5), mutant)
    finally:
        worker.stop()
    assert seen == {
        "refuse": "refused",
        "ok": "success",
        "raw": "raw_error",
        "panic": "crash",
        "abort": "crash",
        "hang": "hang",
        "memory": "big_allocation",
    }
    big = fuzz_readers.classify({"outcome": "success", "maxrss": 3 * 10**9}, mutant)
    assert big == "big_allocation"
    cut = fuzz_readers.Mutant(0, "seed", "truncate", b"tiny", truncation_of="a" * 64)
    assert fuzz_readers.classify({"outcome": "success", "sha": "b" * 64}, cut) == "silent_damage"
    flagged = {"outcome": "success", "sha": "b" * 64, "warnings": ["damaged: 8 rows missing"]}
    assert fuzz_readers.classify(flagged, cut) == "success"
