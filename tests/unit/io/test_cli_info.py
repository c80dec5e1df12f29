"""``orthogui info`` and ``orthogui render`` on good and bad files, in process and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from orthogui.cli import main
from orthogui.io.display import render
from orthogui.io.readers import read_radiograph

ROOT = Path(__file__).resolve().parents[3]


def _info(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_info_json_fields(test_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _info(test_data / "dicom" / "RG2_JLSL.dcm", capsys)
    assert out["rows"] == 2140 and out["columns"] == 1760
    assert out["bits_stored"] == 10
    assert out["photometric_interpretation"] == "MONOCHROME2"
    assert out["transfer_syntax"] == "1.2.840.10008.1.2.4.80"
    assert out["pixel_spacing"] == [0.2, 0.2]
    assert out["pixel_spacing_source"] == "PixelSpacing"
    assert out["windows"] == [{"center": 511.0, "width": 1024.0, "name": "C 511 / W 1024"}]
    assert (out["min"], out["max"]) == (0, 893)
    assert isinstance(out["pixel_sha256"], str) and len(out["pixel_sha256"]) == 64


def test_info_hash_equal_across_lossless_encodings(
    test_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ("RG2_UNC", "RG2_RLE", "RG2_JPLL", "RG2_JLSL", "RG2_J2KR")
    hashes = {n: _info(test_data / "dicom" / f"{n}.dcm", capsys)["pixel_sha256"] for n in names}
    assert len(set(hashes.values())) == 1, hashes


def test_info_text_mode(test_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(test_data / "dicom" / "77654033_CR1_6154.dcm")]) == 0
    text = capsys.readouterr().out
    assert "photometric_interpretation: MONOCHROME1" in text
    assert "pixel_spacing_source: ImagerPixelSpacing" in text
    assert "rescale_slope: 0.684" in text


@pytest.mark.parametrize("command", ["info", "render"])
def test_bad_file_gives_one_line_naming_it(
    test_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    bad = test_data / "dicom" / "RG2_JPLY.dcm"
    extra = ["--out", str(tmp_path / "x.png")] if command == "render" else []
    assert main([command, str(bad), *extra]) != 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "cannot be decoded" in lines[0]
    assert captured.out == ""
    assert not (tmp_path / "x.png").exists()


def test_render_writes_display_image(test_data: Path, tmp_path: Path) -> None:
    src = test_data / "dicom" / "77654033_CR1_6154.dcm"
    out = tmp_path / "thumb.png"
    assert main(["render", str(src), "--out", str(out)]) == 0
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, render(read_radiograph(src)))
    out2 = tmp_path / "narrow.png"
    assert main(["render", str(src), "--out", str(out2), "--window", "1500,200"]) == 0
    narrow = cv2.imread(str(out2), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(narrow, render(read_radiograph(src), (1500.0, 200.0)))
    assert not np.array_equal(narrow, written)


def test_render_rejects_a_bad_window(test_data: Path, tmp_path: Path) -> None:
    src = test_data / "dicom" / "77654033_CR1_6154.dcm"
    with pytest.raises(SystemExit) as exc:
        main(["render", str(src), "--out", str(tmp_path / "x.png"), "--window", "10,-3"])
    assert exc.value.code != 0


def test_cli_as_a_process(test_data: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "orthogui", "info", str(empty), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip() == f"orthogui info: {empty}: empty file (0 bytes)"
