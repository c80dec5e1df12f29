"""Frozen-app entry of the headless commands (``orthogui-cli``)."""

from orthogui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
