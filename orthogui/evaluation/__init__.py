"""Metrics over COCO ground truth and results (pycocotools-equal AP, IoU, Dice, ...)."""
