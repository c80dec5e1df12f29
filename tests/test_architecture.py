"""Architecture rules that CI enforces: import layers and file sizes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 800
MAX_MAIN_WINDOW_LINES = 500


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("import-linter is not installed: run `make test`, which installs it")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_modules_stay_small() -> None:
    too_long = []
    for path in (ROOT / "orthogui").rglob("*.py"):
        n = len(path.read_text(encoding="utf-8").splitlines())
        limit = MAX_MAIN_WINDOW_LINES if path.name == "main_window.py" else MAX_MODULE_LINES
        if n > limit:
            too_long.append(f"{path.relative_to(ROOT)}: {n} lines > {limit}")
    assert not too_long, "split these by responsibility:\n" + "\n".join(too_long)


def test_every_module_has_a_docstring() -> None:
    import ast

    missing = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "orthogui").rglob("*.py")
        if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert not missing, f"modules without a docstring: {missing}"
