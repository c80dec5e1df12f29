"""The training panel follows a worker's events (delivered from another thread), lists model
versions and rolls back; a fake worker process keeps the test free of torch."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from orthogui.ml.card import CardCategory, ModelCard, save_card
from orthogui.training.protocol import Finished, Progress, Started
from orthogui.ui.training.panel import TrainingPanel

FAKE_WORKER = """
import sys, time
from orthogui.training.promotion import decide_promotion
from orthogui.training.protocol import Evaluated, Started, Progress, Finished
print(Started(total_steps=3).to_json(), flush=True)
for s in (1, 2, 3):
    print(Progress(step=s, total_steps=3, epoch=0, loss=3.0 / s, lr=0.01, eta_s=3 - s).to_json(), flush=True)
cand = {"segm_AP": float(sys.argv[2]), "bbox_AP": 0.5}
cur = {"segm_AP": float(sys.argv[3]), "bbox_AP": 0.5}
print(Evaluated(step=3, metrics=cand).to_json(), flush=True)
print(Evaluated(step=3, metrics=cur, model="current").to_json(), flush=True)
why = decide_promotion(cur, cand, 0.02).reason  # kept: as if no models folder was given
print(Finished(step=3, promoted=False, version="2", card=sys.argv[1], reason=why).to_json(), flush=True)
"""


def _card(models: Path, version: str, ap: float) -> Path:
    models.mkdir(exist_ok=True)
    (models / f"w{version}.safetensors").write_bytes(version.encode())
    card = ModelCard(
        name="m",
        version=version,
        architecture="a",
        num_classes=2,
        categories=(CardCategory(1, "fracture", "fracture"),),
        weights_file=f"w{version}.safetensors",
        weights_sha256="0" * 64,
        metrics={"segm_AP": ap, "bbox_AP": ap + 0.1},
    )
    return save_card(card, models / f"m-{version}.json").source  # type: ignore[return-value]


def test_events_from_a_thread_update_progress_eta_and_plot(qtbot, tmp_path: Path) -> None:
    panel = TrainingPanel(models_dir=tmp_path / "models", model_name="m")
    qtbot.addWidget(panel)
    events = [
        Started(total_steps=10, device="cpu", train_images=4),
        *[
            Progress(step=s, total_steps=10, epoch=0, loss=1.0 / s, lr=0.01, eta_s=75.0)
            for s in (1, 2, 3)
        ],
    ]
    worker = threading.Thread(target=lambda: [panel.bridge._from_worker(e) for e in events])
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(panel.plot.points) == 3)
    assert panel.progress.maximum() == 10 and panel.progress.value() == 3
    assert panel.eta_label.text() == "ETA 1:15"
    line = panel.plot.polyline()
    assert line.size() == 3 and line.at(0).y() < line.at(2).y()  # loss falls: drawn lower
    panel.bridge._from_worker(Finished(step=10, promoted=True, version="1", card="x", reason="ok"))
    qtbot.waitUntil(lambda: "promoted" in panel.status_label.text())


def test_versions_list_and_roll_back(qtbot, tmp_path: Path) -> None:
    models = tmp_path / "models"
    _card(models, "1", 0.3)
    _card(models, "2", 0.4)
    panel = TrainingPanel(models_dir=models, model_name="m")
    qtbot.addWidget(panel)
    assert panel.versions.rowCount() == 2
    assert panel.versions.item(0, 0).text() == "2 (current)"
    assert panel.versions.item(0, 1).text() == "0.400"
    with qtbot.waitSignal(panel.models_changed):
        panel.rollback_button.click()
    assert panel.versions.rowCount() == 1 and panel.versions.item(0, 0).text() == "1 (current)"
    assert not panel.rollback_button.isEnabled()


@pytest.mark.parametrize(("candidate_ap", "current_ap"), [(0.0, 1.0), (0.6, 0.5)])
def test_fake_worker_run_ends_with_a_candidate_the_table_explains(
    qtbot, tmp_path: Path, candidate_ap: float, current_ap: float
) -> None:
    """The gate's verdict, its message and the table agree (held-out metrics of this run, not
    the cards' own test sets); Promote is offered only to a candidate that wins the gate."""
    models = tmp_path / "models"
    _card(models, "1", 0.169)  # the card's own test set: not what the gate compared
    candidate = _card(tmp_path / "cand", "c", 0.35)
    panel = TrainingPanel(models_dir=models, model_name="m")
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.models_changed, timeout=30000):
        panel.start(
            tmp_path / "job.json",
            command=[
                sys.executable,
                "-c",
                FAKE_WORKER,
                str(candidate),
                str(candidate_ap),
                str(current_ap),
            ],
        )
    text = panel.status_label.text()
    assert "kept as candidate" in text and "held-out" in text and len(panel.plot.points) == 3
    rows = {
        panel.versions.item(r, 0).text(): panel.versions.item(r, 1).text()
        for r in range(panel.versions.rowCount())
    }
    assert rows["1 (current)"] == "0.169"
    assert rows["current model on this run's held-out images"] == f"{current_ap:.3f}"
    assert rows["candidate on this run's held-out images"] == f"{candidate_ap:.3f}"
    panel.bridge.run.wait(10)  # type: ignore[union-attr]
    if candidate_ap <= current_ap:  # it lost: nothing to promote by hand
        assert f"{current_ap:.4f}" in text
        assert not panel.promote_button.isEnabled() and not panel.candidate_wins
        panel.promote_button.click()
        assert panel.versions.item(0, 0).text() == "1 (current)"
        return
    assert panel.promote_button.isEnabled()
    panel.promote_button.click()
    assert panel.versions.item(0, 0).text() == "2 (current)"
    assert "promoted version 2" in panel.status_label.text()
