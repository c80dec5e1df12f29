"""Smoke test of the frozen app: both binaries start, say their version, the headless one
reads a DICOM file with its pixels (codecs and data packages inside the bundle), and the
desktop entry it installs starts the bundle's own ``orthogui`` with the shipped icon.

Run: ``python packaging/smoke.py build/bundle/dist/orthogui`` (``make bundle`` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "dicom" / "77654033_CR1_6154.dcm"


def run(args: list[str]) -> str:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    took = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    print(
        f"ok {took:5.1f} s  {' '.join(Path(a).name if i == 0 else a for i, a in enumerate(args))}"
    )
    return out.stdout


def main() -> int:
    folder = Path(
        sys.argv[1] if len(sys.argv) > 1 else ROOT / "build" / "bundle" / "dist" / "orthogui"
    ).resolve()
    cli, gui = folder / "orthogui-cli", folder / "orthogui"
    for exe in (cli, gui):
        if not exe.is_file():
            raise SystemExit(f"{exe}: missing (build it with make bundle)")
    version = run([str(cli), "--version"]).split()[-1]  # "orthogui-cli 0.1.0"
    if run([str(gui), "--version"]).split()[-1] != version:
        raise SystemExit("the two binaries report different versions")
    info = json.loads(run([str(cli), "info", str(SAMPLE), "--json"]))
    if not info.get("pixel_sha256"):
        raise SystemExit(f"info gave no pixel hash: {info}")
    with tempfile.TemporaryDirectory() as home:
        run([str(cli), "desktop", "--data-home", home])
        entry = (Path(home) / "applications" / "orthogui.desktop").read_text(encoding="utf-8")
        if f"Exec={gui} %F" not in entry.splitlines():
            raise SystemExit(f"the desktop entry does not start {gui}:\n{entry}")
        if not (Path(home) / "icons/hicolor/scalable/apps/orthogui.svg").is_file():
            raise SystemExit("the desktop entry's icon is missing")
    print(json.dumps({"bundle": str(folder), "version": version, "info_rows": info.get("rows")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
