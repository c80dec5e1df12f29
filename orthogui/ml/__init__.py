"""Mask R-CNN models, predictor, inference service, datasets, uncertainty. torch lives here."""
