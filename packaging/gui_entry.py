"""Frozen-app entry of the desktop window (``orthogui``)."""

from orthogui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
