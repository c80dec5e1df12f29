"""A folder scan reports its progress (files found while walking, then files looked at of
all) and stops early when cancelled; a DICOMDIR given as a file adds what it references."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orthogui.io.files import scan_records
from orthogui.io.folder_scan import ScanCancelled, ScanProgress, scan_folder, scan_paths
from tests.patient_cd import DATA, SOURCES, write_patient_cd


def _tree(root: Path, n: int = 300, images: int = 10) -> Path:
    for i in range(n):
        folder = root / f"d{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if i < images:
            shutil.copyfile(DATA / SOURCES[i % len(SOURCES)], folder / f"IM{i:06d}")
        else:
            (folder / f"f{i:04d}.txt").write_text("not an image")
    return root


def test_progress_arrives_for_every_stage(tmp_path: Path) -> None:
    seen: list[ScanProgress] = []
    scan = scan_folder(_tree(tmp_path), progress=seen.append)
    assert len(scan.files) == 10 and scan.skipped == 290 and scan.looked_at == 300
    stages = [p.stage for p in seen]
    assert stages[0] == "walking" and stages[-1] == "reading"
    walked = [p for p in seen if p.stage == "walking"]
    assert walked[-1].done == 300 and all(p.total == 0 for p in walked)  # total unknown
    read = [p for p in seen if p.stage == "reading"]
    assert read[-1] == ScanProgress("reading", 300, 300)
    assert [p.done for p in read] == sorted(p.done for p in read)
    assert scan.summary() == "290 other file(s) skipped (not images)"


def test_records_report_importing_too(tmp_path: Path) -> None:
    seen: list[ScanProgress] = []
    result = scan_records([_tree(tmp_path, 40, 4)], progress=seen.append)
    assert len(result.records) == 4 and result.scan.skipped == 36
    assert seen[-1] == ScanProgress("importing", 4, 4)


def test_cancel_stops_the_scan_early(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    seen: list[ScanProgress] = []
    polls = 0

    def cancelled() -> bool:
        nonlocal polls
        polls += 1
        return polls > 60  # a few polls while walking, then one per file looked at

    with pytest.raises(ScanCancelled) as stop:
        scan_folder(root, progress=seen.append, cancelled=cancelled)
    assert 40 < stop.value.looked_at < 60
    assert polls == 61  # nothing was looked at after the answer


def test_a_dicomdir_opened_as_a_file_adds_its_images(tmp_path: Path) -> None:
    cd = write_patient_cd(tmp_path / "cd")
    scan = scan_paths([cd / "DICOMDIR"])
    assert len(scan.files) == 9 == scan.from_dicomdir and scan.skipped == 0
    assert sorted(scan.files) == sorted(scan_folder(cd).files)
