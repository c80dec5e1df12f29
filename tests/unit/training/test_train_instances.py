"""Every card the worker writes carries ``training_data["train_instances"]``: the instances per
project category of its own training split, so rare categories keep their weight in the
uncertainty order after a fine-tune (not the counts of the model it started from)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from orthogui.ml.card import load_card, save_card
from orthogui.ml.data import load_split
from orthogui.training.job import load_job
from orthogui.training.protocol import Event, Finished
from orthogui.training.worker import run_job

pytestmark = pytest.mark.slow


def expected_counts(job_path: Path, categories: list[str]) -> dict[str, int]:
    """Non-crowd instances per category name in the job's train split, read from the COCO."""
    job = load_job(job_path)
    coco = load_split(job.snapshot, "train", seed=job.seed, val_fraction=job.val_fraction).coco
    names = {int(c["id"]): str(c["name"]) for c in coco["categories"]}
    counts = dict.fromkeys(categories, 0)
    for a in coco["annotations"]:
        if not a.get("iscrowd", 0) and names[int(a["category_id"])] in counts:
            counts[names[int(a["category_id"])]] += 1
    return counts


def test_cards_of_a_run_and_of_a_fine_tune_carry_their_split_counts(
    write_job: Callable[..., Path], tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    from orthogui.ml.scoring import TRAIN_INSTANCES, context_from_card, rarity

    events: list[Event] = []
    job_path = write_job(hyper={"max_steps": 1})
    job = load_job(job_path)
    outcome = run_job(job, emit=events.append)
    assert isinstance(events[-1], Finished) and outcome.card is not None
    want = expected_counts(job_path, list(job.categories))
    assert sum(want.values()) > 0 and 0 in want.values()  # the limb scene lacks some types

    published = load_card(outcome.card.source)  # type: ignore[arg-type]
    candidates = list((job.output / "candidate").glob("*.json"))
    assert len(candidates) == 1
    checkpoint = torch.load(job.checkpoint_path, map_location="cpu", weights_only=False)
    for written in (
        published.training_data,
        load_card(candidates[0]).training_data,
        checkpoint["card"]["training_data"],
    ):
        assert written[TRAIN_INSTANCES] == want

    # Rarity is active: a category seen least in training weighs more than the commonest.
    ctx = context_from_card(published)
    label = {c.project_category: c.label for c in published.categories}
    common = max(want, key=lambda n: want[n])
    rare = min((n for n in want if want[n] > 0), key=lambda n: want[n])
    assert ctx.label_counts == {label[n]: k for n, k in want.items()}
    assert want[rare] < want[common]  # the tiny snapshot: 4 fractures, 1 cortical screw
    assert rarity([label[common]], ctx) == 1.0
    assert rarity([label[rare]], ctx) == pytest.approx((want[common] / want[rare]) ** 0.5)
    absent = next(n for n in want if want[n] == 0)  # counted as 1: as rare as it gets
    assert rarity([label[absent]], ctx) == pytest.approx(min(ctx.rare_cap, want[common] ** 0.5))

    # Fine-tuning from a card with other counts (as the bundled model's): the new card has the
    # counts of its own split, not the start card's.
    start = save_card(
        replace(published, training_data={TRAIN_INSTANCES: {"cortical_screw": 999}}),
        job.output / "candidate" / "start.json",
    )
    events.clear()
    tuned = run_job(
        load_job(
            write_job(
                hyper={"max_steps": 1},
                output=str(tmp_path / "run2"),
                start_card=str(start.source),
            )
        ),
        emit=events.append,
    )
    assert isinstance(events[-1], Finished) and tuned.card is not None
    data = load_card(tuned.card.source).training_data  # type: ignore[arg-type]
    assert data[TRAIN_INSTANCES] == want
    assert data["started_from"] == f"{published.name} {published.version}"
