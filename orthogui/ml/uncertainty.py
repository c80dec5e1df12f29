"""Active learning's forward pass: a Mask R-CNN's detections of one image with the full class
distribution of each, its flipped copy's, and the image's pooled backbone features, as the
``ImagePredictions`` that ``orthogui.ml.scoring`` scores and orders without torch.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torchvision.models.detection import MaskRCNN

from orthogui.ml.scoring import FloatArray, ImagePredictions


@torch.inference_mode()
def _detect_with_probs(
    model: MaskRCNN, image: torch.Tensor
) -> tuple[FloatArray, FloatArray, NDArray[np.int64], FloatArray, FloatArray]:
    """torchvision's box post-processing for one image, keeping for every detection the
    softmax over all classes of the proposal it came from, and the image's pooled features."""
    from torchvision.ops import boxes as box_ops

    original = (int(image.shape[-2]), int(image.shape[-1]))
    images, _ = model.transform([image])
    features = model.backbone(images.tensors)
    # Where the image lies among others: every FPN level global-average-pooled, then averaged.
    pooled_levels = [f.float().mean(dim=(-2, -1))[0] for f in features.values()]
    embedding = torch.stack(pooled_levels).mean(dim=0).cpu().numpy().astype(np.float64)
    proposals, _ = model.rpn(images, features)
    heads = model.roi_heads
    pooled = heads.box_roi_pool(features, proposals, images.image_sizes)
    logits, regression = heads.box_predictor(heads.box_head(pooled))
    probs = torch.softmax(logits.float(), dim=-1)  # (n_proposals, num_classes)
    n, c = probs.shape
    boxes = heads.box_coder.decode(regression, proposals).reshape(n, c, 4)
    boxes = box_ops.clip_boxes_to_image(boxes, images.image_sizes[0])
    labels = torch.arange(c, device=probs.device).view(1, -1).expand(n, c)
    origin = torch.arange(n, device=probs.device).view(-1, 1).expand(n, c)
    boxes, scores = boxes[:, 1:].reshape(-1, 4), probs[:, 1:].reshape(-1)
    labels, origin = labels[:, 1:].reshape(-1), origin[:, 1:].reshape(-1)
    keep = torch.where(scores > heads.score_thresh)[0]
    keep = keep[box_ops.remove_small_boxes(boxes[keep], min_size=1e-2)]
    keep = keep[box_ops.batched_nms(boxes[keep], scores[keep], labels[keep], heads.nms_thresh)]
    keep = keep[: heads.detections_per_img]
    dets = [{"boxes": boxes[keep]}]
    final = model.transform.postprocess(dets, images.image_sizes, [original])[0]["boxes"]
    return (
        final.float().cpu().numpy().astype(np.float64),
        scores[keep].cpu().numpy().astype(np.float64),
        labels[keep].cpu().numpy().astype(np.int64),
        probs[origin[keep]].cpu().numpy().astype(np.float64),
        embedding,
    )


def predict_for_scoring(
    model: MaskRCNN,
    unit: NDArray[np.float32],
    *,
    device: torch.device | str = "cpu",
    flip: bool = True,
    score_threshold: float = 0.05,
) -> ImagePredictions:
    """Detections of a ``(rows, cols)`` unit image (see ``to_unit_image``) with class
    distributions, plus those of its horizontal flip when ``flip``, and the image's pooled
    backbone features (``ImagePredictions.features``, from the same forward pass).

    ``score_threshold`` replaces the card's threshold while scoring: uncertain detections are
    the ones a high threshold would hide.
    """
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(unit, dtype=np.float32))[None].expand(3, -1, -1)
    x = x.to(device)
    saved = model.roi_heads.score_thresh
    model.roi_heads.score_thresh = score_threshold
    try:
        boxes, scores, labels, probs, feats = _detect_with_probs(model, x)
        fb = fs = fl = None
        if flip:
            fb, fs, fl, _, _ = _detect_with_probs(model, x.flip(-1))
            w = float(unit.shape[1])
            fb = np.stack([w - fb[:, 2], fb[:, 1], w - fb[:, 0], fb[:, 3]], axis=1)
    finally:
        model.roi_heads.score_thresh = saved
    return ImagePredictions(boxes, scores, labels, probs, fb, fs, fl, features=feats)
