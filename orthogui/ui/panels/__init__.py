"""Dock panels of the main window: review queue, findings, categories, properties."""
