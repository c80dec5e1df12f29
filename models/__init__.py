"""Data package ``orthogui_models``: the bundled model cards (JSON) and weights (safetensors),
found through ``orthogui.paths`` (no code lives here)."""
