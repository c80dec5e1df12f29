"""Metrics over COCO ground truth and results (pycocotools-equal AP, IoU, Dice, ...)."""

from __future__ import annotations

from orthogui.evaluation.cocoeval import EvaluationInputError
from orthogui.evaluation.report import evaluate

__all__ = ["EvaluationInputError", "evaluate"]
