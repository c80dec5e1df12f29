"""A grouped label (the five screw types detected as "screw"): the job field, the new card,
the ground truth the worker evaluates against, and one real training step."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
from orthogui.training.job import JobError, load_job

SCREWS = [c.name for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP]


def test_groups_make_one_label_that_covers_its_members(write_job: Callable[..., Path]) -> None:
    from orthogui.training.worker import _base_card

    job = load_job(
        write_job(
            category_groups={"screw": SCREWS},
            architecture="maskrcnn_efficientnet_lite0_fpn",
        )
    )
    card, current = _base_card(job)
    assert current is None
    screw = card.categories[0]
    assert (screw.label, screw.name, screw.project_category) == (1, "screw", SCREWS[0])
    assert screw.covers == tuple(SCREWS)
    assert [c.name for c in card.categories[1:]] == [
        c.name for c in DEFAULT_CATEGORIES if c.group != SCREW_GROUP
    ]
    assert card.num_classes == len(card.categories) + 1
    # The architecture's normalisation and input statistics go into the new card.
    assert card.norm_layer == "frozen_batch_norm"
    assert card.preprocessing.mean == (0.5, 0.5, 0.5)


@pytest.mark.parametrize(
    ("groups", "reason"),
    [
        ({"screw": ["cortical_screw", "nope"]}, "not in categories"),
        ({"a": ["cortical_screw"], "b": ["cortical_screw"]}, "two groups"),
        ({"screw": []}, "must map"),
        (["cortical_screw"], "must map"),
    ],
)
def test_bad_groups_are_refused(write_job: Callable[..., Path], groups, reason: str) -> None:
    with pytest.raises(JobError, match=reason):
        load_job(write_job(category_groups=groups))


def test_groups_survive_the_job_file(write_job: Callable[..., Path], tmp_path: Path) -> None:
    from orthogui.training.job import save_job

    job = load_job(write_job(category_groups={"screw": SCREWS}))
    again = load_job(save_job(job, tmp_path / "again.json"))
    assert again.category_groups == {"screw": tuple(SCREWS)}


def test_eval_ground_truth_puts_members_under_the_label(
    write_job: Callable[..., Path], snapshot: Path
) -> None:
    from orthogui.ml.data import load_split
    from orthogui.training.worker import _base_card, _category_ids, _eval_gt

    job = load_job(write_job(category_groups={"screw": SCREWS}))
    card, _ = _base_card(job)
    split = load_split(snapshot, "val", seed=0, val_fraction=0.5)
    ids = _category_ids(split, card)
    gt = _eval_gt(split, card, ids)
    names = {int(c["id"]): str(c["name"]) for c in split.coco["categories"]}
    n_screws = sum(1 for a in split.coco["annotations"] if names[int(a["category_id"])] in SCREWS)
    assert n_screws > 0
    in_gt = [names[int(a["category_id"])] for a in gt["annotations"]]
    assert in_gt.count(SCREWS[0]) == n_screws  # every type counted as the label's category
    assert not set(in_gt) & set(SCREWS[1:])


@pytest.mark.slow
def test_a_grouped_pretrained_model_trains_and_publishes(
    write_job: Callable[..., Path], tmp_path: Path
) -> None:
    from orthogui.ml.card import load_card
    from orthogui.training.worker import main

    job = write_job(
        category_groups={"screw": SCREWS},
        architecture="maskrcnn_efficientnet_lite0_fpn",
        hyper={"max_steps": 2},
    )
    events: list[dict] = []

    class Sink:
        def write(self, text: str) -> None:
            events.extend(json.loads(line) for line in text.splitlines() if line.strip())

        def flush(self) -> None:
            pass

    assert main([str(job)], stream=Sink()) == 0  # type: ignore[arg-type]
    finished = [e for e in events if e["event"] == "finished"][-1]
    card = load_card(finished["card"])
    assert card.categories[0].covers == tuple(SCREWS)
    assert card.training_data["started_from"].startswith("ImageNet backbone")
