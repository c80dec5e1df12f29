"""The user guide lists every shortcut of the single table in ``orthogui.ui.actions``."""

from __future__ import annotations

import re
from pathlib import Path

from orthogui.ui.actions import SHORTCUTS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"


def test_guide_lists_every_shortcut() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    missing = []
    for spec in SHORTCUTS:
        for key in spec.keys:
            if f"`{key}`" not in text:
                missing.append(f"{spec.name}: {key}")
        if spec.text.replace("&", "").rstrip("…") not in text:
            missing.append(f"{spec.name}: {spec.text}")
    assert not missing, "docs/user-guide.md lacks: " + ", ".join(missing)
    assert re.search(r"^## Shortcuts", text, re.M)
