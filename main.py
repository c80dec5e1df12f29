"""Start the OrthoGUI desktop application (thin entry; see orthogui/app.py)."""

from __future__ import annotations

import sys

from orthogui.app import main

if __name__ == "__main__":
    sys.exit(main())
