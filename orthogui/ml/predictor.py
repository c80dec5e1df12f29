"""Mask R-CNN predictor: radiographs in, ``Prediction``s (polygons, boxes) out.

Implements ``orthogui.core.predictor.Predictor``. Device auto-selected (CUDA, else CPU), fp16
autocast on CUDA, batched forward, and one device-to-host copy per batch: the per-instance
work (mask pasting, contours) runs on the host inside each box only.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.image_list import ImageList

from orthogui.core.annotation import TYPE_PROBABILITIES, Prediction
from orthogui.core.geometry import Polygon
from orthogui.core.radiograph import Radiograph
from orthogui.ml.card import ModelCard
from orthogui.ml.postprocess import Detections, paste_masks, to_predictions
from orthogui.ml.preprocess import to_unit_image
from orthogui.ml.screw_type import CropSpec, aligned_crop, type_probabilities
from orthogui.ml.uncertainty import (
    ImageScores,
    ScoringContext,
    combined,
    context_from_card,
    predict_for_scoring,
    score_image,
)
from orthogui.ml.weights import configure, load_model, load_type_stage, select_device


class MaskRCNNPredictor:
    """A loaded Mask R-CNN and its card. Safe to call from several threads (calls serialise).

    Parameters
    ----------
    model, card
        The network (any registered architecture) and the card describing it.
    device
        ``None``: CUDA when available, else CPU.
    fp16
        Autocast to float16; ``None``: on for CUDA, off for CPU.
    score_threshold, nms_iou, max_detections
        Override the card's postprocessing.
    batch_size
        Images per forward pass in ``predict_batch``.
    """

    def __init__(
        self,
        model: MaskRCNN,
        card: ModelCard,
        *,
        device: str | torch.device | None = None,
        fp16: bool | None = None,
        score_threshold: float | None = None,
        nms_iou: float | None = None,
        max_detections: int | None = None,
        batch_size: int = 4,
    ) -> None:
        self.card = card
        self.device = select_device(device)
        self.fp16 = (self.device.type == "cuda") if fp16 is None else fp16
        self.batch_size = max(1, int(batch_size))
        self.model = configure(
            model.to(self.device).eval(),
            card,
            score_threshold=score_threshold,
            nms_iou=nms_iou,
            max_detections=max_detections,
        )
        self._categories = card.category_for_label()
        self.type_model = load_type_stage(card, self.device)
        self._lock = threading.Lock()
        self._context: ScoringContext | None = None

    @classmethod
    def from_card(
        cls,
        card_or_name: ModelCard | str | Path,
        *,
        device: str | torch.device | None = None,
        models_dir: str | Path | None = None,
        **overrides: float | int | bool | None,
    ) -> MaskRCNNPredictor:
        """Load a model by card, card path or name (see ``load_model``) and wrap it."""
        model, card = load_model(card_or_name, device=device, models_dir=models_dir)
        return cls(model, card, device=device, **overrides)  # type: ignore[arg-type]

    @property
    def model_name(self) -> str:
        return self.card.name

    @property
    def model_version(self) -> str:
        return self.card.version

    def predict(self, radiograph: Radiograph) -> list[Prediction]:
        """Findings of one radiograph in its pixel coordinates."""
        return self.predict_batch([radiograph])[0]

    def predict_batch(self, radiographs: Sequence[Radiograph]) -> list[list[Prediction]]:
        """Findings of several radiographs, run ``batch_size`` at a time."""
        units = [to_unit_image(rg, self.card.preprocessing) for rg in radiographs]
        return [self.typed(self.predictions(d), u) for d, u in zip(self.detect(units), units)]

    def predictions(self, det: Detections) -> list[Prediction]:
        """Polygons and boxes from raw detections, as the card's postprocessing says."""
        return to_predictions(
            det,
            categories=self._categories,
            post=self.card.postprocessing,
            model_name=self.model_name,
            model_version=self.model_version,
        )

    def typed(self, preds: list[Prediction], unit: NDArray[np.float32]) -> list[Prediction]:
        """Predictions of a grouped label (e.g. "screw") typed by the card's type stage from
        strips of ``unit`` (the full-resolution network input); others pass unchanged. Each
        typed prediction carries every type's probability in ``TYPE_PROBABILITIES``."""
        stage = self.card.type_stage
        if stage is None or self.type_model is None:
            return preds
        covers = {c.project_category: c.covers for c in self.card.categories if c.covers}
        outlines = {
            i: p.shape.points.astype(np.float32)
            for i, p in enumerate(preds)
            if p.category in covers and isinstance(p.shape, Polygon)
        }
        if not outlines:
            return preds
        todo = list(outlines)
        spec = CropSpec(stage.crop_length, stage.crop_width, stage.crop_context)
        strips = [aligned_crop(unit, outlines[i], spec) for i in todo]
        with self._lock:
            probs = type_probabilities(self.type_model, strips, device=self.device)
        out = list(preds)
        for i, row in zip(todo, probs):
            allowed = covers[preds[i].category]
            by_type = {t: float(row[k]) for k, t in enumerate(stage.categories) if t in allowed}
            best = max(by_type, key=by_type.__getitem__)
            out[i] = replace(
                preds[i],
                category=best,
                attributes={**preds[i].attributes, TYPE_PROBABILITIES: by_type},
            )
        return out

    # -- active learning ---------------------------------------------------------------------
    def scoring_context(self) -> ScoringContext:
        """Screw labels and label rarity from the card (see ``context_from_card``)."""
        if self._context is None:
            self._context = context_from_card(self.card)
        return self._context

    def image_scores(
        self,
        radiograph: Radiograph,
        *,
        context: ScoringContext | None = None,
        flip: bool = True,
        score_threshold: float = 0.05,
    ) -> ImageScores:
        """Every registered scorer's uncertainty for one radiograph.

        The card's preprocessing is applied, then ``predict_for_scoring`` runs the model on
        the image (and on its mirror image when ``flip``) with a low score threshold.
        """
        unit = to_unit_image(radiograph, self.card.preprocessing)
        with self._lock:  # never alongside a prediction on another thread
            preds = predict_for_scoring(
                self.model, unit, device=self.device, flip=flip, score_threshold=score_threshold
            )
        if self.type_model is not None:
            # The type stage's doubt about the findings the reviewer will see.
            shown = self.typed(self.predictions(self.detect([unit])[0]), unit)
            probs = [
                list(p.attributes[TYPE_PROBABILITIES].values())
                for p in shown
                if TYPE_PROBABILITIES in p.attributes
            ]
            table = np.array(probs, dtype=np.float64) if probs else np.zeros((0, 0))
            preds = replace(preds, type_probs=table)
        return score_image(preds, context or self.scoring_context())

    def uncertainty(
        self, radiograph: Radiograph, *, context: ScoringContext | None = None
    ) -> float:
        """The number stored as ``ImageRecord.uncertainty``: the scorers' mean times the
        rarity of the rarest category predicted (``combined``); higher = review sooner."""
        ctx = context or self.scoring_context()
        return float(combined(self.image_scores(radiograph, context=ctx), ctx))

    def detect(self, units: Sequence[NDArray[np.float32]]) -> list[Detections]:
        """Raw detections of ``(rows, cols)`` [0, 1] images (see ``to_unit_image``)."""
        out: list[Detections] = []
        with self._lock:
            for start in range(0, len(units), self.batch_size):
                out.extend(self._detect_batch(units[start : start + self.batch_size]))
        return out

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.fp16 and self.device.type == "cuda":
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _images(
        self, units: Sequence[NDArray[np.float32]]
    ) -> tuple[ImageList, list[tuple[int, int]]]:
        transform = self.model.transform
        mean = torch.tensor(transform.image_mean, device=self.device).view(3, 1, 1)
        std = torch.tensor(transform.image_std, device=self.device).view(3, 1, 1)
        tensors, sizes = [], []
        for u in units:
            x = torch.from_numpy(np.ascontiguousarray(u, dtype=np.float32))[None]
            x = x.to(self.device, non_blocking=True)
            # Resize one channel, then broadcast to three while normalising: the same as
            # torchvision's normalise-then-resize of a 3-channel copy (both are affine).
            x, _ = transform.resize(x, None)
            tensors.append((x - mean) / std)
            sizes.append((int(x.shape[-2]), int(x.shape[-1])))
        batched = transform.batch_images(tensors, size_divisible=transform.size_divisible)
        return ImageList(batched, sizes), sizes

    @torch.inference_mode()
    def _detect_batch(self, units: Sequence[NDArray[np.float32]]) -> list[Detections]:
        originals = [(int(u.shape[0]), int(u.shape[1])) for u in units]
        images, sizes = self._images(units)
        with self._autocast():
            features = self.model.backbone(images.tensors)
            proposals, _ = self.model.rpn(images, features)
            dets, _ = self.model.roi_heads(features, proposals, images.image_sizes)
        rows = []
        for d, (rh, rw), (oh, ow) in zip(dets, sizes, originals):
            scale = torch.tensor([ow / rw, oh / rh, ow / rw, oh / rh], device=self.device)
            rows.append(
                torch.cat(
                    [
                        d["boxes"].float() * scale,
                        d["scores"].float()[:, None],
                        d["labels"].float()[:, None],
                        d["masks"].float().flatten(1),
                    ],
                    dim=1,
                )
            )
        counts = [int(r.shape[0]) for r in rows]
        # One device-to-host copy for the whole batch instead of one per tensor per instance.
        packed = torch.cat(rows).cpu().numpy() if rows else np.zeros((0, 6), np.float32)
        out = []
        start = 0
        thr = self.card.postprocessing.mask_threshold
        for n, size in zip(counts, originals):
            block = packed[start : start + n]
            start += n
            m = math.isqrt(max(block.shape[1] - 6, 1))
            boxes = np.ascontiguousarray(block[:, :4])
            masks = block[:, 6:].reshape(n, m, m)
            out.append(
                Detections(
                    image_size=size,
                    boxes=boxes,
                    scores=block[:, 4].copy(),
                    labels=block[:, 5].astype(np.int64),
                    masks=paste_masks(masks, boxes, size, threshold=thr),
                )
            )
        return out
