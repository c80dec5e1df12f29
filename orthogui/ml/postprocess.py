"""Detections (boxes, labels, scores, 28x28 mask logits' probabilities) -> ``Prediction``s.

Host-side and torch-free: masks are pasted only inside their own box at the original
resolution (never one full-image mask per instance, as torchvision does), then traced to
polygons. The geometry copies torchvision's ``paste_masks_in_image`` so both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.core.annotation import Prediction
from orthogui.core.categories import ShapeKind
from orthogui.core.geometry import Box, Polygon
from orthogui.io.masks import mask_to_polygons
from orthogui.ml.card import CardCategory, Postprocessing


@dataclass(frozen=True)
class MaskCrop:
    """A binary mask that is zero outside ``[x0, x0+w) x [y0, y0+h)`` of the image."""

    x0: int
    y0: int
    mask: NDArray[np.bool_]

    def full(self, shape: tuple[int, int]) -> NDArray[np.bool_]:
        """The mask at full image size (for comparisons and export)."""
        out = np.zeros(shape, dtype=bool)
        h, w = self.mask.shape
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = self.mask
        return out


@dataclass(frozen=True)
class Detections:
    """One image's raw detections in original-image pixels (numpy, on the host)."""

    image_size: tuple[int, int]  # (rows, cols)
    boxes: NDArray[np.float32]  # (N, 4) x0, y0, x1, y1
    scores: NDArray[np.float32]  # (N,)
    labels: NDArray[np.int64]  # (N,)
    masks: tuple[MaskCrop, ...]  # thresholded, one per detection

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


def _expanded_boxes(boxes: NDArray[np.float32], scale: float) -> NDArray[np.int64]:
    # As torchvision's expand_boxes + .to(int64): float32 arithmetic, truncation toward zero.
    b = boxes.astype(np.float32)
    w_half = (b[:, 2] - b[:, 0]) * np.float32(0.5) * np.float32(scale)
    h_half = (b[:, 3] - b[:, 1]) * np.float32(0.5) * np.float32(scale)
    x_c = (b[:, 2] + b[:, 0]) * np.float32(0.5)
    y_c = (b[:, 3] + b[:, 1]) * np.float32(0.5)
    out = np.stack([x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half], axis=1)
    expanded: NDArray[np.int64] = np.trunc(out).astype(np.int64)
    return expanded


def paste_masks(
    masks: NDArray[np.float32],
    boxes: NDArray[np.float32],
    image_size: tuple[int, int],
    *,
    threshold: float,
) -> tuple[MaskCrop, ...]:
    """Paste ``(N, M, M)`` mask probabilities into their boxes and threshold them.

    Each mask is resized to its (one-pixel padded) box only, so the cost scales with the box
    area, not with the image area times the number of instances.
    """
    n = masks.shape[0]
    if n == 0:
        return ()
    m = masks.shape[-1]
    padded = np.pad(masks.reshape(n, m, m), ((0, 0), (1, 1), (1, 1)))
    ib = _expanded_boxes(boxes, (m + 2) / m)
    im_h, im_w = image_size
    out = []
    for i in range(n):
        bx0, by0, bx1, by1 = (int(v) for v in ib[i])
        w = max(bx1 - bx0 + 1, 1)
        h = max(by1 - by0 + 1, 1)
        x_0, x_1 = max(bx0, 0), min(bx1 + 1, im_w)
        y_0, y_1 = max(by0, 0), min(by1 + 1, im_h)
        if x_1 <= x_0 or y_1 <= y_0:
            out.append(
                MaskCrop(max(min(x_0, im_w), 0), max(min(y_0, im_h), 0), np.zeros((0, 0), bool))
            )
            continue
        # INTER_LINEAR on float32 is the half-pixel bilinear of F.interpolate(align_corners=False).
        resized = cv2.resize(padded[i], (w, h), interpolation=cv2.INTER_LINEAR)
        crop = resized[y_0 - by0 : y_1 - by0, x_0 - bx0 : x_1 - bx0] > threshold
        out.append(MaskCrop(x_0, y_0, crop))
    return tuple(out)


def boxes_from_masks(
    boxes: NDArray[np.float32],
    masks: NDArray[np.float32],
    labels: NDArray[np.int64],
    box_labels: frozenset[int],
    *,
    threshold: float,
) -> NDArray[np.float32]:
    """Redraw the boxes of ``box_labels`` detections around their own mask.

    ``masks`` are the ``(N, M, M)`` mask-head probabilities, each spanning its box (cell ``j``
    covers ``x0 + j * w / M`` to ``x0 + (j + 1) * w / M``, as RoIAlign samples it). A box
    becomes the extent of the cells at or above ``threshold``; a box whose mask has no such
    cell, and every other label's box, is kept as it is. Returns a new array.
    """
    out = np.array(boxes, dtype=np.float32, copy=True)
    if threshold <= 0.0 or not box_labels:
        return out
    m = masks.shape[-1]
    for i in np.flatnonzero(np.isin(labels, list(box_labels))):
        on = masks[i] >= threshold
        if not on.any():
            continue
        rows = np.flatnonzero(on.any(axis=1))
        cols = np.flatnonzero(on.any(axis=0))
        x0, y0, x1, y1 = (float(v) for v in boxes[i])
        cw, ch = (x1 - x0) / m, (y1 - y0) / m
        out[i] = (
            x0 + cols[0] * cw,
            y0 + rows[0] * ch,
            x0 + (cols[-1] + 1) * cw,
            y0 + (rows[-1] + 1) * ch,
        )
    return out


def mask_confidence_scores(
    scores: NDArray[np.float32],
    masks: NDArray[np.float32],
    labels: NDArray[np.int64],
    mask_labels: frozenset[int],
    *,
    power: float,
    threshold: float,
) -> NDArray[np.float32]:
    """Scores of ``mask_labels`` detections times their mask's confidence to ``power``.

    The confidence is the mean mask-head probability over the cells at or above
    ``threshold`` (the cells that make the outline; 0 where there are none): an outline the
    mask head draws firmly keeps its score, one it is unsure of, such as an outline that
    runs into a crossing screw, ranks lower (the idea of Mask Scoring R-CNN, without its
    extra head). ``power`` 0 and other labels leave scores as they are. Returns a new array.
    """
    out = np.array(scores, dtype=np.float32, copy=True)
    if power <= 0.0 or not mask_labels or out.size == 0:
        return out
    flat = masks.reshape(masks.shape[0], -1)
    on = flat >= threshold
    count = on.sum(axis=1)
    conf = np.where(count > 0, (flat * on).sum(axis=1) / np.maximum(count, 1), 0.0)
    sel = np.isin(labels, list(mask_labels))
    out[sel] = out[sel] * np.power(conf[sel], power).astype(np.float32)
    return out


def _contained(a: Box, b: Box) -> float:
    """Intersection of ``a`` and ``b`` over the smaller one's area."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(min(a.area, b.area), 1e-9)


def _mask_overlap(a: MaskCrop, b: MaskCrop) -> float:
    """Pixels two pasted masks share, over the smaller mask's pixels."""
    ha, wa = a.mask.shape
    hb, wb = b.mask.shape
    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    x1, y1 = min(a.x0 + wa, b.x0 + wb), min(a.y0 + ha, b.y0 + hb)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    sa = a.mask[y0 - a.y0 : y1 - a.y0, x0 - a.x0 : x1 - a.x0]
    sb = b.mask[y0 - b.y0 : y1 - b.y0, x0 - b.x0 : x1 - b.x0]
    shared = int(np.count_nonzero(sa & sb))
    return shared / max(min(int(np.count_nonzero(a.mask)), int(np.count_nonzero(b.mask))), 1)


def one_box_per_finding(preds: list[Prediction], post: Postprocessing) -> list[Prediction]:
    """Drop box predictions nested in a higher-scoring box of their category and cap each box
    category at ``post.max_boxes_per_category``: one fracture is one box, not a stack."""
    kept: dict[str, list[Box]] = {}
    out = []
    for p in sorted(preds, key=lambda q: -q.score):
        if isinstance(p.shape, Box):
            same = kept.setdefault(p.category, [])
            if len(same) >= post.max_boxes_per_category or any(
                _contained(p.shape, k) > post.box_containment for k in same
            ):
                continue
            same.append(p.shape)
        out.append(p)
    return out


def to_predictions(
    det: Detections,
    *,
    categories: dict[int, CardCategory],
    post: Postprocessing,
    model_name: str,
    model_version: str,
) -> list[Prediction]:
    """Turn detections into predictions: polygons for mask categories, boxes for box ones.

    A mask's polygon is the outer ring of its largest component (holes and small fragments
    dropped); a detection whose mask is empty or below ``post.min_area`` is dropped. Boxes
    go through ``one_box_per_finding``; a mask mostly shared with a higher-scoring mask of its
    category (``post.mask_containment``) is that finding again and is dropped. Highest score
    first.
    """
    out: list[Prediction] = []
    rows, cols = det.image_size
    kept_masks: dict[str, list[MaskCrop]] = {}
    for i in sorted(range(len(det)), key=lambda k: -float(det.scores[k])):
        cat = categories.get(int(det.labels[i]))
        if cat is None:
            continue
        score = float(det.scores[i])
        shape: Box | Polygon
        if cat.shape is ShapeKind.BOX:
            x0, y0, x1, y1 = (float(v) for v in det.boxes[i])
            box = Box(
                min(max(x0, 0.0), cols),
                min(max(y0, 0.0), rows),
                min(max(x1, 0.0), cols),
                min(max(y1, 0.0), rows),
            )
            if box.area <= 0:
                continue
            shape = box
        else:
            crop = det.masks[i]
            if crop.mask.size == 0 or not crop.mask.any():
                continue
            same = kept_masks.setdefault(cat.project_category, [])
            if any(_mask_overlap(crop, k) > post.mask_containment for k in same):
                continue  # the same finding, proposed again with a lower score
            polys = mask_to_polygons(
                crop.mask, tolerance=post.polygon_tolerance, min_area=post.min_area
            )
            if not polys:
                continue
            same.append(crop)
            shape = polys[0].translated(crop.x0, crop.y0)
        out.append(
            Prediction(
                category=cat.project_category,
                score=score,
                shape=shape,
                model_name=model_name,
                model_version=model_version,
            )
        )
    return one_box_per_finding(out, post)
