"""Mask R-CNN predictor: radiographs in, ``Prediction``s (polygons, boxes) out.

Implements ``orthogui.core.predictor.Predictor``. Device auto-selected (CUDA, else CPU), fp16
autocast on CUDA, batched forward, and one device-to-host copy per batch: the per-instance
work (mask pasting, contours) runs on the host inside each box only. Radiographs above
``max_input_pixels`` are area-downsampled before the network; their predictions come back in
full-resolution pixels and the type stage still cuts its strips at full resolution.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.image_list import ImageList

from orthogui.core.annotation import TYPE_PROBABILITIES, Prediction
from orthogui.core.categories import ShapeKind
from orthogui.core.geometry import Polygon
from orthogui.core.radiograph import Radiograph
from orthogui.ml.card import ModelCard
from orthogui.ml.diversity import ScoredImage
from orthogui.ml.postprocess import (
    Detections,
    boxes_from_masks,
    mask_confidence_scores,
    paste_masks,
    to_predictions,
)
from orthogui.ml.preprocess import (
    DEFAULT_MAX_INPUT_PIXELS,
    NetworkInput,
    network_input,
)
from orthogui.ml.scoring import (
    ImageScores,
    ScoringContext,
    combined,
    context_from_card,
    score_image,
    scored_image,
)
from orthogui.ml.screw_type import (
    CropSpec,
    aligned_crop,
    crop_of,
    strip_span,
    type_probabilities,
)
from orthogui.ml.uncertainty import predict_for_scoring
from orthogui.ml.weights import configure, load_model, load_type_stage, select_device

log = logging.getLogger(__name__)

INFERENCE_SCALE = "inference_scale"
"""``Prediction.attributes`` key, set only when the radiograph was downsampled for the
network: radiograph pixels per network-input pixel (e.g. 3.38 for a 16000 x 12000 film at the
default cap). The prediction itself is in full-resolution pixels."""


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
    max_input_pixels
        Radiographs with more pixels are area-downsampled to at most this many before the
        network (which resizes to the card's ``max_size`` anyway), bounding the memory of
        huge films; ``None``: never. Default ``DEFAULT_MAX_INPUT_PIXELS`` (4096 x 4096).
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
        max_input_pixels: int | None = DEFAULT_MAX_INPUT_PIXELS,
    ) -> None:
        self.card = card
        self.max_input_pixels = max_input_pixels
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
        self._box_labels = frozenset(
            label for label, cat in self._categories.items() if cat.shape is ShapeKind.BOX
        )
        self._mask_labels = frozenset(self._categories) - self._box_labels
        # The card's own thresholds: box categories may start higher; an explicit
        # ``score_threshold`` (evaluation, benchmarks) is the one threshold for all.
        self._box_threshold = (
            card.postprocessing.box_score_threshold if score_threshold is None else 0.0
        )
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
        inputs = [self.network_input(rg) for rg in radiographs]
        dets = self.detect([i.unit for i in inputs], image_sizes=[i.image_size for i in inputs])
        return [self._typed_input(self.predictions(d), i) for d, i in zip(dets, inputs)]

    def network_input(self, radiograph: Radiograph) -> NetworkInput:
        """The unit image the network sees, downsampled above ``max_input_pixels``."""
        inp = network_input(radiograph, self.card.preprocessing, max_pixels=self.max_input_pixels)
        if inp.downsampled:
            sx, sy = inp.scale
            log.info(
                "%s: %d x %d downsampled by %.3f (x) / %.3f (y) to %d x %d for inference "
                "(max_input_pixels=%s)",
                radiograph.path,
                radiograph.columns,
                radiograph.rows,
                sx,
                sy,
                inp.unit.shape[1],
                inp.unit.shape[0],
                self.max_input_pixels,
            )
        return inp

    def _typed_input(self, preds: list[Prediction], inp: NetworkInput) -> list[Prediction]:
        if not inp.downsampled:
            return self.typed(preds, inp.unit)
        typed = self.typed(preds, inp)
        factor = round(max(inp.scale), 4)
        return [replace(p, attributes={**p.attributes, INFERENCE_SCALE: factor}) for p in typed]

    def predictions(self, det: Detections) -> list[Prediction]:
        """Polygons and boxes from raw detections, as the card's postprocessing says."""
        return to_predictions(
            det,
            categories=self._categories,
            post=self.card.postprocessing,
            model_name=self.model_name,
            model_version=self.model_version,
        )

    def typed(
        self, preds: list[Prediction], unit: NDArray[np.float32] | NetworkInput
    ) -> list[Prediction]:
        """Predictions of a grouped label (e.g. "screw") typed by the card's type stage from
        full-resolution strips: of ``unit`` (the full-resolution unit image), or cut from the
        radiograph around each finding when given a downsampled ``NetworkInput``; others pass
        unchanged. Each typed prediction carries every type's probability in
        ``TYPE_PROBABILITIES``."""
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
        spec = crop_of(stage)
        strips = [full_resolution_strip(unit, outlines[i], spec) for i in todo]
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
        inp = self.network_input(radiograph)
        with self._lock:  # never alongside a prediction on another thread
            preds = predict_for_scoring(
                self.model, inp.unit, device=self.device, flip=flip, score_threshold=score_threshold
            )
        if inp.downsampled:  # boxes in radiograph pixels, as for a normal-size image
            sx, sy = inp.scale
            xyxy = np.array([sx, sy, sx, sy])
            preds = replace(
                preds,
                boxes=preds.boxes * xyxy,
                flipped_boxes=None if preds.flipped_boxes is None else preds.flipped_boxes * xyxy,
            )
        if self.type_model is not None:
            # The type stage's doubt about the findings the reviewer will see.
            dets = self.detect([inp.unit], image_sizes=[inp.image_size])
            shown = self._typed_input(self.predictions(dets[0]), inp)
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

    def explained_uncertainty(
        self, radiograph: Radiograph, *, context: ScoringContext | None = None
    ) -> ScoredImage:
        """``uncertainty`` with the reason the image is worth reviewing early ("type unsure:
        locking vs cortical ...") and compact backbone features for diverse batches: what the
        inference service stores for the queue."""
        ctx = context or self.scoring_context()
        return scored_image(self.image_scores(radiograph, context=ctx), ctx)

    def detect(
        self,
        units: Sequence[NDArray[np.float32]],
        *,
        image_sizes: Sequence[tuple[int, int]] | None = None,
    ) -> list[Detections]:
        """Raw detections of ``(rows, cols)`` [0, 1] images (see ``to_unit_image``).

        ``image_sizes``: the ``(rows, cols)`` of the radiographs the units were downsampled
        from; boxes and masks come back in those pixels. Default: the units' own sizes.
        """
        sizes = [u.shape[:2] for u in units] if image_sizes is None else list(image_sizes)
        if len(sizes) != len(units):
            raise ValueError(f"{len(units)} images but {len(sizes)} image sizes")
        out: list[Detections] = []
        with self._lock:
            for start in range(0, len(units), self.batch_size):
                stop = start + self.batch_size
                out.extend(self._detect_batch(units[start:stop], sizes[start:stop]))
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
    def _detect_batch(
        self, units: Sequence[NDArray[np.float32]], image_sizes: Sequence[tuple[int, int]]
    ) -> list[Detections]:
        # Boxes go from the network's resized input straight to radiograph pixels (one scale
        # per axis: unit -> network and radiograph -> unit are both plain scalings), and masks
        # are pasted inside those boxes at full resolution, one box-sized crop at a time.
        originals = [(int(h), int(w)) for h, w in image_sizes]
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
        from_mask = self.card.postprocessing.box_from_mask
        power = self.card.postprocessing.mask_score_power
        for n, size in zip(counts, originals):
            block = packed[start : start + n]
            start += n
            m = math.isqrt(max(block.shape[1] - 6, 1))
            boxes = np.ascontiguousarray(block[:, :4])
            masks = block[:, 6:].reshape(n, m, m)
            labels = block[:, 5].astype(np.int64)
            scores = mask_confidence_scores(
                block[:, 4], masks, labels, self._mask_labels, power=power, threshold=thr
            )
            # The score threshold holds for the rescored findings too; boxes may need more.
            keep = scores >= float(self.model.roi_heads.score_thresh)
            keep &= ~np.isin(labels, list(self._box_labels)) | (scores >= self._box_threshold)
            if not keep.all():
                boxes, masks, labels, scores = boxes[keep], masks[keep], labels[keep], scores[keep]
            out.append(
                Detections(
                    image_size=size,
                    boxes=boxes_from_masks(
                        boxes, masks, labels, self._box_labels, threshold=from_mask
                    ),
                    scores=scores,
                    labels=labels,
                    masks=paste_masks(masks, boxes, size, threshold=thr),
                )
            )
        return out


def full_resolution_strip(
    source: NDArray[np.float32] | NetworkInput, points: NDArray[np.float32], spec: CropSpec
) -> NDArray[np.float32]:
    """``aligned_crop`` at full resolution; from a downsampled input, the full-resolution unit
    image is computed only around the finding (the strip's footprint plus a margin)."""
    if not isinstance(source, NetworkInput):
        return aligned_crop(source, points, spec)
    if not source.downsampled:
        return aligned_crop(source.unit, points, spec)
    x0, y0, x1, y1 = _strip_footprint(points, spec)
    region = source.region(x0, y0, x1, y1)
    rows, cols = source.image_size
    cx0, cy0 = max(0, min(x0, cols)), max(0, min(y0, rows))
    return aligned_crop(region, points - np.array([cx0, cy0], np.float32), spec)


def _strip_footprint(points: NDArray[np.float32], spec: CropSpec) -> tuple[int, int, int, int]:
    """Integer box holding every pixel ``aligned_crop`` can read for ``points``: the rotated
    strip (``span`` long, ``span * width / length`` wide) around the outline's centre, plus a
    margin for interpolation."""
    (cx, cy), (w, h), _ = cv2.minAreaRect(points.astype(np.float32).reshape(-1, 1, 2))
    long_side, short_side = max(w, h), min(w, h)
    span = strip_span(long_side, short_side, spec)
    radius = 0.5 * span * math.hypot(1.0, spec.width / spec.length) + 4.0
    return (
        math.floor(cx - radius),
        math.floor(cy - radius),
        math.ceil(cx + radius) + 1,
        math.ceil(cy + radius) + 1,
    )
