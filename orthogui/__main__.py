"""``python -m orthogui``: the headless commands (see ``orthogui.cli``)."""

from __future__ import annotations

import sys

from orthogui.cli import main

if __name__ == "__main__":
    sys.exit(main())
