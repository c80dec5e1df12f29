"""A fixed-seed slice of ``bench/fuzz_coco.py``: no raw errors, no partial imports, no hangs.

The full run (400 mutants) is the benchmark; these 40 keep the guarantee in the suite.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.unit._bench import load_bench


@pytest.fixture(scope="module")
def fuzz_coco() -> ModuleType:
    return load_bench("fuzz_coco")


def test_forty_mutants_are_refused_cleanly_or_imported_whole(fuzz_coco: ModuleType) -> None:
    report = fuzz_coco.fuzz(n=40, seed=7, timeout_s=30)
    counts = report["outcomes"]
    assert sum(counts.values()) == 40
    assert counts["raw_error"] == 0 and counts["partial"] == 0 and counts["hang"] == 0, report
    assert counts["refused"] >= 20 and counts["imported"] >= 1  # both paths were exercised


def test_mutants_are_reproducible_and_varied(fuzz_coco: ModuleType, tmp_path: Path) -> None:
    base = fuzz_coco.seed_coco(tmp_path)
    first = fuzz_coco.mutants(base, n=60, seed=3)
    assert first == fuzz_coco.mutants(base, n=60, seed=3)
    assert {m.kinds[0] for m in first} == set(fuzz_coco.MUTATORS)
    assert all(m.content != json.dumps(base).encode() for m in first[:10])


def test_the_harness_sees_raw_errors_and_partial_imports(
    fuzz_coco: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The classification itself: an importer that crashes, or writes and then refuses."""
    import orthogui.cli.import_ as cli_import
    from orthogui.core.project import ImageRecord
    from orthogui.io.importers import ImportValidationError
    from orthogui.io.store import ProjectStore

    root = tmp_path / "images"
    work = tmp_path / "work"
    work.mkdir()
    (mutant,) = fuzz_coco.mutants(fuzz_coco.seed_coco(root), n=1, seed=0)
    assert fuzz_coco.run_one(mutant, work, root)[0] in ("refused", "imported")

    def crash(project: Path, fmt: str, path: Path, **_: object) -> None:
        raise TypeError("'int' object is not iterable")

    monkeypatch.setattr(cli_import, "import_into_project", crash)
    outcome, detail = fuzz_coco.run_one(mutant, work, root)
    assert outcome == "raw_error" and detail.startswith("TypeError at test_fuzz_coco.py")

    def half(project: Path, fmt: str, path: Path, **_: object) -> None:
        with ProjectStore.open(project) as store:
            store.add_images([ImageRecord(id="x", path="a.png")])
        raise ImportValidationError.one(path, "annotations[0].score", "NaN")

    monkeypatch.setattr(cli_import, "import_into_project", half)
    assert fuzz_coco.run_one(mutant, work, root)[0] == "partial"
