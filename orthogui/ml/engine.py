"""Training and evaluation as plain functions (torchvision reference style): the optimizer and
schedule recipe, ``train_one_epoch`` with accumulation, autocast and NaN detection, and
``evaluate`` giving pycocotools' COCO metrics.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from orthogui.evaluation.cocoeval import coco_ap, load_gt, load_results

Batch = tuple[list[Tensor], list[dict[str, Tensor]]]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training cannot go on from these weights."""

    def __init__(self, step: int, losses: Mapping[str, float]) -> None:
        self.step = step
        self.losses = dict(losses)
        parts = ", ".join(f"{k}={v:.4g}" for k, v in losses.items())
        super().__init__(f"non-finite loss at step {step} ({parts})")


@dataclass(frozen=True)
class StepInfo:
    """What ``train_one_epoch`` reports after each optimizer step."""

    step: int  # optimizer steps done so far, over the whole run
    epoch: int
    loss: float
    losses: dict[str, float]
    lr: float
    seconds: float  # wall time of this optimizer step
    images: int  # images that went into it


def make_optimizer(
    model: nn.Module, *, lr: float, momentum: float = 0.9, weight_decay: float = 1e-4
) -> torch.optim.SGD:
    """SGD with momentum over the trainable parameters; no weight decay on norms and biases."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.SGD(groups, lr=lr, momentum=momentum)


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    *,
    warmup_steps: int,
    total_steps: int,
    warmup_factor: float = 0.001,
    final_factor: float = 0.01,
) -> LambdaLR:
    """Linear warm-up from ``warmup_factor * lr`` to ``lr``, then cosine decay to
    ``final_factor * lr`` at ``total_steps`` (stepped once per optimizer step)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return warmup_factor + (1.0 - warmup_factor) * step / max(warmup_steps, 1)
        span = max(total_steps - warmup_steps, 1)
        t = min((step - warmup_steps) / span, 1.0)
        return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * t))

    return LambdaLR(optimizer, factor)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """fp16 autocast on CUDA when enabled; nothing on CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def make_scaler(device: torch.device, enabled: bool) -> torch.amp.GradScaler:
    """A gradient scaler, active only for fp16 on CUDA."""
    return torch.amp.GradScaler("cuda", enabled=enabled and device.type == "cuda")


def _to(batch: Batch, device: torch.device) -> Batch:
    images, targets = batch
    return (
        [im.to(device, non_blocking=True) for im in images],
        [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets],
    )


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data_loader: Iterable[Batch],
    device: torch.device,
    epoch: int,
    *,
    lr_scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    accumulation: int = 1,
    start_step: int = 0,
    max_steps: int | None = None,
    grad_clip: float = 0.0,
    reduce_loss: Callable[[Tensor], Tensor] | None = None,
    on_step: Callable[[StepInfo], bool | None] | None = None,
) -> int:
    """Train over ``data_loader`` once (or until ``max_steps`` optimizer steps in total).

    Parameters
    ----------
    accumulation
        Batches whose gradients are summed (each loss divided by it) per optimizer step.
    start_step
        Optimizer steps done before this epoch (the schedule is per step).
    reduce_loss
        Under DDP: averages the logged loss over ranks (also makes every rank see a NaN).
    on_step
        Called after every optimizer step; returning ``True`` stops the epoch early.

    Returns
    -------
    int
        Optimizer steps done in total after this epoch.

    Raises
    ------
    NonFiniteLossError
        The loss was NaN or infinite; no optimizer step was taken with it.
    """
    model.train()
    step = start_step
    use_amp = scaler is not None and scaler.is_enabled()
    pending = 0
    images_in_step = 0
    t0 = time.perf_counter()
    logged: dict[str, float] = {}
    optimizer.zero_grad(set_to_none=True)
    for batch in data_loader:
        if max_steps is not None and step >= max_steps:
            break
        images, targets = _to(batch, device)
        with autocast(device, use_amp):
            loss_dict = model(images, targets)
            loss = sum(loss_dict.values(), torch.zeros((), device=device))
        total = loss.detach().float()
        if reduce_loss is not None:
            total = reduce_loss(total)
        if not math.isfinite(float(total)):
            raise NonFiniteLossError(step + 1, {k: float(v.detach()) for k, v in loss_dict.items()})
        scaled = loss / accumulation
        if use_amp and scaler is not None:
            scaler.scale(scaled).backward()
        else:
            scaled.backward()
        pending += 1
        images_in_step += len(images)
        for k, v in loss_dict.items():
            logged[k] = logged.get(k, 0.0) + float(v.detach()) / accumulation
        if pending < accumulation:
            continue
        if use_amp and scaler is not None:
            if grad_clip > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            if grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        lr = float(optimizer.param_groups[0]["lr"])
        if lr_scheduler is not None:
            lr_scheduler.step()
        step += 1
        now = time.perf_counter()
        info = StepInfo(
            step=step,
            epoch=epoch,
            loss=sum(logged.values()),
            losses=dict(logged),
            lr=lr,
            seconds=now - t0,
            images=images_in_step,
        )
        t0, pending, images_in_step, logged = now, 0, 0, {}
        if on_step is not None and on_step(info):
            break
    optimizer.zero_grad(set_to_none=True)  # a partial accumulation is dropped, not carried
    return step


def _results(
    outputs: list[dict[str, Tensor]],
    image_ids: list[int],
    category_of_label: Mapping[int, int],
    mask_threshold: float,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for o, image_id in zip(outputs, image_ids):
        boxes = o["boxes"].float().cpu().numpy()
        scores = o["scores"].float().cpu().numpy()
        labels = o["labels"].cpu().numpy()
        masks = (o["masks"][:, 0] > mask_threshold).cpu().numpy().astype(np.uint8)
        rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0))) if len(masks) else []
        for box, score, label, rle in zip(boxes, scores, labels, rles):
            if int(label) not in category_of_label:
                continue
            rle["counts"] = rle["counts"].decode("ascii")
            x0, y0, x1, y1 = (float(v) for v in box)
            out.append(
                {
                    "image_id": image_id,
                    "category_id": category_of_label[int(label)],
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "score": float(score),
                    "segmentation": rle,
                }
            )
    return out


@torch.inference_mode()
def predict_coco(
    model: nn.Module,
    data_loader: Iterable[Batch],
    device: torch.device,
    *,
    category_of_label: Mapping[int, int],
    mask_threshold: float = 0.5,
    amp: bool = False,
) -> list[dict[str, Any]]:
    """COCO results (RLE masks, xywh boxes) of ``model`` over a loader of unaugmented images."""
    model.eval()
    results: list[dict[str, Any]] = []
    for images, targets in data_loader:
        with autocast(device, amp):
            outputs = model([im.to(device) for im in images])
        ids = [int(t["image_id"]) for t in targets]
        results += _results(outputs, ids, category_of_label, mask_threshold)
    return results


def coco_metrics(gt: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, float]:
    """``segm_*``/``bbox_*`` summary stats and ``segm_AP/<category>`` etc. via pycocotools.

    Categories without ground truth in ``gt`` get no per-category entry.
    """
    gt_coco = load_gt(gt)
    metrics: dict[str, float] = {}
    present = {int(a["category_id"]) for a in gt["annotations"]}
    for iou_type in ("segm", "bbox"):
        dt = load_results(gt_coco, results)
        r = coco_ap(gt_coco, dt, iou_type=iou_type)
        for k in ("AP", "AP50", "AP75", "AR100"):
            metrics[f"{iou_type}_{k}"] = max(r.stats[k], 0.0)
        for name, per in r.per_category.items():
            if int(per["category_id"]) in present:
                metrics[f"{iou_type}_AP/{name}"] = max(per["AP"], 0.0)
    return metrics


def evaluate(
    model: nn.Module,
    data_loader: Iterable[Batch],
    device: torch.device,
    *,
    gt: dict[str, Any],
    category_of_label: Mapping[int, int],
    mask_threshold: float = 0.5,
    amp: bool = False,
) -> dict[str, float]:
    """COCO metrics of ``model`` on a held-out split (``gt`` is that split's COCO dict).

    Returns
    -------
    dict
        ``segm_AP``, ``segm_AP50``, ``bbox_AP`` ... and ``segm_AP/<category>`` per category
        present in ``gt`` (pycocotools' numbers; -1 "no data" is reported as 0).
    """
    results = predict_coco(
        model,
        data_loader,
        device,
        category_of_label=category_of_label,
        mask_threshold=mask_threshold,
        amp=amp,
    )
    return coco_metrics(gt, results)
