"""Data package ``orthogui_resources``: the style sheet, default settings and demo images that
ship with OrthoGUI (found through ``orthogui.paths``; no code lives here)."""
