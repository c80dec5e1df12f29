"""``orthogui predict`` over a batch finishes: bad files are skipped by name, good results are
written, the exit status says something failed, and ``--project`` resumes where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from orthogui.cli import main
from orthogui.ml.card import ModelCard
from tests.unit.ml.conftest import card_for, synthetic_radiograph, wake_up

SHAPE = (72, 96)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> ModelCard:
    """A small random-weight model made to detect (at 96 px, to keep a batch quick)."""
    import torch

    from orthogui.ml.architectures import build_model
    from orthogui.ml.weights import build_options, save_weights

    card = card_for(size=96, score_threshold=0.3)
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    wake_up(model, card, [1, 6])
    return save_weights(model, card, tmp_path_factory.mktemp("models"))


def _png(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), synthetic_radiograph(seed, SHAPE).stored)
    return path


def test_a_folder_of_eight_with_one_broken_file(
    published: ModelCard,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "batch"
    for k in range(8):  # each image costs ~1 s of CPU on the test machine
        _png(folder / f"part{k % 3}" / f"img{k:02d}.png", k)  # nested: found recursively
    (folder / "part1" / "broken.png").write_text("not an image")
    (folder / "notes.txt").write_text("a text file in the folder: one more skipped line")
    out = tmp_path / "results.json"
    argv = ["predict", "--model", str(published.source), "--device", "cpu", "--out", str(out)]
    argv += ["--score-threshold", "0.9"]  # fewer findings: quicker, still some
    assert main([*argv, str(folder)]) == 1
    err = capsys.readouterr().err
    skipped = [ln for ln in err.splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == 2
    assert "broken.png" in skipped[0] and "notes.txt" in skipped[1]
    assert err.rstrip().splitlines()[-1].endswith("; 2 of 10 failed")
    images = json.loads((tmp_path / "results.images.json").read_text())["images"]
    assert len(images) == 8 and not any("broken" in im["file_name"] for im in images)
    assert [im["id"] for im in images] == list(range(1, 9))
    results = json.loads(out.read_text())
    assert results and {r["image_id"] for r in results} <= set(range(1, 9))
    # A missing path among good files is one more skipped line, not the end of the run.
    good = str(folder / "part0" / "img00.png")
    assert main([*argv, good, str(tmp_path / "absent.png")]) == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "absent.png" in err and "1 of 2 failed" in err
    assert len(json.loads((tmp_path / "results.images.json").read_text())["images"]) == 1


def test_project_run_skips_bad_images_and_resumes(
    published: ModelCard,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orthogui.core.project import ImageRecord
    from orthogui.io.store import ProjectStore

    paths = [_png(tmp_path / f"im{k}.png", k) for k in range(2)]
    broken = tmp_path / "im2.png"
    broken.write_text("not an image")
    project = tmp_path / "p.orthogui"
    with ProjectStore.create(project) as store:
        store.add_images(
            [ImageRecord(id=f"im{k}", path=str(p)) for k, p in enumerate([*paths, broken])]
        )
    argv = ["predict", "--model", str(published.source), "--device", "cpu"]
    argv += ["--project", str(project)]

    def state() -> tuple[int, int]:
        with ProjectStore.open(project, read_only=True) as store:
            return len(store.model.annotations()), len(store.history)

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "skipped im2" in err and "im2.png" in err and "1 of 3 failed" in err
    first = state()
    assert first[0] > 0 and first[1] == 2  # one step per good image
    assert main(argv) == 1  # the rerun tries only the image that failed
    err = capsys.readouterr().err
    assert "skipped im2" in err and "2 already done" in err and "1 of 1 failed" in err
    assert state() == first
    _png(broken, 5)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "on 1 images" in err and "2 already done" in err
    assert state()[1] == 3
    assert main(argv) == 0  # nothing left to do
    assert state()[1] == 3


def test_a_truncated_jpeg_is_predicted_with_a_warning_line(
    published: ModelCard,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    img = synthetic_radiograph(3, SHAPE).stored
    ok, data = cv2.imencode(".jpg", (img >> 4).astype("uint8"))
    assert ok
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data.tobytes()[: int(len(data) * 0.8)])  # the end of the scan is lost
    out = tmp_path / "results.json"
    argv = ["predict", "--model", str(published.source), "--device", "cpu", "--out", str(out)]
    assert main([*argv, str(cut)]) == 0  # read and predicted, not refused
    err = capsys.readouterr().err
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning ")]
    assert len(warnings) == 1 and "cut.jpg" in warnings[0] and "rows missing" in warnings[0]
