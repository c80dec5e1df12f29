"""The schedule's shape, a real training step lowering the loss, NaN detection, COCO metrics."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from orthogui.ml.engine import (
    NonFiniteLossError,
    coco_metrics,
    make_optimizer,
    train_one_epoch,
    warmup_cosine,
)


def test_warmup_then_cosine() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = warmup_cosine(opt, warmup_steps=10, total_steps=110, final_factor=0.0)
    lrs = []
    for _ in range(111):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.001)
    assert lrs[5] == pytest.approx(0.001 + 0.999 * 0.5)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.5, abs=1e-6)
    assert lrs[110] == pytest.approx(0.0, abs=1e-9)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))


class _Toy(torch.nn.Module):
    """A detector-shaped module: takes (images, targets), returns a dict of losses."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([3.0]))

    def forward(
        self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        return {"quad": (self.w**2).sum(), "lin": self.w.abs().sum() * 0.1}


def test_accumulation_steps_and_loss_goes_down() -> None:
    model = _Toy()
    opt = make_optimizer(model, lr=0.1, weight_decay=0.0)
    batches = [([torch.zeros(1)], [{}])] * 8
    seen = []
    steps = train_one_epoch(
        model,
        opt,
        batches,
        torch.device("cpu"),
        0,
        accumulation=2,
        on_step=lambda info: seen.append(info) and None,
    )
    assert steps == 4 and [s.step for s in seen] == [1, 2, 3, 4]
    assert all(s.images == 2 for s in seen)
    assert seen[-1].loss < seen[0].loss


def test_nan_loss_raises_before_the_step() -> None:
    model = _Toy()
    with torch.no_grad():
        model.w.fill_(math.nan)
    opt = make_optimizer(model, lr=0.1)
    with pytest.raises(NonFiniteLossError, match="step 1"):
        train_one_epoch(model, opt, [([torch.zeros(1)], [{}])], torch.device("cpu"), 0)


def test_coco_metrics_are_perfect_for_ground_truth_results() -> None:
    ring = [10.0, 10.0, 40.0, 10.0, 40.0, 30.0, 10.0, 30.0]
    gt = {
        "images": [{"id": 1, "width": 64, "height": 64}],
        "categories": [{"id": 6, "name": "fracture"}, {"id": 7, "name": "other"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 6,
                "segmentation": [ring],
                "bbox": [10, 10, 30, 20],
                "area": 600.0,
                "iscrowd": 0,
            }
        ],
    }
    res = [
        {
            "image_id": 1,
            "category_id": 6,
            "segmentation": [ring],
            "bbox": [10, 10, 30, 20],
            "score": 0.9,
        }
    ]
    m = coco_metrics(gt, res)
    assert m["segm_AP"] == pytest.approx(1.0) and m["bbox_AP"] == pytest.approx(1.0)
    assert m["segm_AP/fracture"] == pytest.approx(1.0) and "segm_AP/other" not in m
    assert coco_metrics(gt, [])["segm_AP"] == 0.0
