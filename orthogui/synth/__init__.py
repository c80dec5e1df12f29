"""Synthetic orthopaedic radiographs (phantoms) with exact ground truth."""
