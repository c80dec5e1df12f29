"""Readers and writers: radiographs, COCO, project store. No Qt, no torch."""
