"""The installable product: the wheel carries the code, ``resources/`` and ``models/``, and an
install outside the checkout runs the headless commands, the bundled model and the demo.

The slow tests build the wheel from a copy of the sources (the checkout stays clean), install
it with ``pip --target`` into a temporary folder and run everything from a third folder, with
the venv's site-packages behind it for the dependencies only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from orthogui import __version__
from orthogui.paths import BundleError, bundled_models_dir, resource, resources_dir

ROOT = Path(__file__).resolve().parents[1]
DATA_PACKAGES = {"orthogui_resources": "resources", "orthogui_models": "models"}
DICOM = ROOT / "tests" / "data" / "dicom" / "RG2_JPLL.dcm"  # JPEG lossless: a pylibjpeg plugin
IMAGE = ROOT / "tests" / "data" / "images" / "IMG0001268.jpg"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_and_data_folder_is_in_the_build_config() -> None:
    from setuptools import find_packages

    tool = _pyproject()["tool"]["setuptools"]
    code = set(find_packages(str(ROOT), include=["orthogui", "orthogui.*"]))
    listed = set(tool["packages"])
    assert code <= listed, f"add to [tool.setuptools] packages: {sorted(code - listed)}"
    assert listed - code == set(DATA_PACKAGES), sorted(listed - code)
    assert tool["package-dir"] == DATA_PACKAGES
    scripts = _pyproject()["project"]
    assert scripts["scripts"]["orthogui-cli"] == "orthogui.cli:main"
    assert scripts["gui-scripts"]["orthogui"] == "orthogui.app:main"


def test_paths_find_the_shipped_files_here() -> None:
    assert resource("style.qss").is_file()
    assert (resources_dir() / "demo" / "fracatlas" / "annotations.json").is_file()
    assert list(bundled_models_dir().glob("*.json"))


def test_a_never_installed_checkout_finds_its_folders(tmp_path: Path) -> None:
    """``PYTHONPATH=checkout`` without any install (``-S``: no site-packages at all)."""
    code = "from orthogui.paths import *; print(resources_dir()); print(bundled_models_dir())"
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == [str(ROOT / "resources"), str(ROOT / "models")]


def test_missing_data_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import orthogui.paths as paths

    monkeypatch.setattr(paths, "MODELS_PACKAGE", "orthogui_no_such_models")
    monkeypatch.setattr(paths, "_CHECKOUT", tmp_path)
    with pytest.raises(BundleError, match="orthogui_no_such_models is not installed"):
        paths.bundled_models_dir()


# -- the wheel, installed outside the checkout ------------------------------------------------


def _copy_sources(dest: Path) -> Path:
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp")
    for name in ("orthogui", "resources", "models"):
        shutil.copytree(ROOT / name, dest / name, ignore=junk)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


def _pip(*args: str, cwd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel (offline, no isolation: setuptools from this venv) and install it."""
    base = tmp_path_factory.mktemp("packaging")
    src = _copy_sources(base / "src")
    _pip(
        "wheel", "--no-index", "--no-deps", "--no-build-isolation", "-w", "dist", str(src), cwd=base
    )
    (wheel,) = (base / "dist").glob("orthogui-*.whl")
    target = base / "target"
    _pip("install", "--no-index", "--no-deps", "--target", str(target), str(wheel), cwd=base)
    work = base / "work"
    work.mkdir()
    return {"target": target, "work": work, "wheel": wheel, "config": base / "config"}


def _env(inst: dict[str, Path]) -> dict[str, str]:
    """The installed wheel first, the venv's packages behind it for the dependencies only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORTHOGUI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(inst["target"]), sysconfig.get_paths()["purelib"]])
    env["ORTHOGUI_CONFIG_DIR"] = str(inst["config"])
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _run(inst: dict[str, Path], *cmd: str | Path, timeout: int = 180) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=inst["work"],
        env=_env(inst),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    return proc.stdout


def _python(inst: dict[str, Path], code: str) -> str:
    return _run(inst, sys.executable, "-c", code)


@pytest.mark.slow
def test_wheel_carries_every_model_file_and_the_resources(installed: dict[str, Path]) -> None:
    target = installed["target"]
    shipped = {p.name for p in (ROOT / "models").iterdir() if p.suffix in (".json", ".safetensors")}
    assert shipped and shipped <= {p.name for p in (target / "orthogui_models").iterdir()}
    for rel in ("style.qss", "settings.json", "demo/fracatlas/annotations.json"):
        assert (target / "orthogui_resources" / rel).is_file(), rel
    demo_images = sorted(p.name for p in (ROOT / "resources/demo/fracatlas/images").iterdir())
    assert (
        sorted(p.name for p in (target / "orthogui_resources/demo/fracatlas/images").iterdir())
        == demo_images
    )
    # the installed code finds the installed files, not the checkout's
    out = _python(
        installed,
        "import orthogui, json; from orthogui.paths import *; from orthogui.ml.card import "
        "default_models_dir; print(json.dumps([orthogui.__file__, str(resources_dir()), "
        "str(default_models_dir())]))",
    )
    code, res, models = json.loads(out)
    assert Path(code).is_relative_to(target) and not Path(code).is_relative_to(ROOT)
    assert (Path(res), Path(models)) == (target / "orthogui_resources", target / "orthogui_models")


@pytest.mark.slow
def test_installed_scripts_answer_version_and_info(installed: dict[str, Path]) -> None:
    bin_dir = installed["target"] / "bin"
    assert _run(installed, bin_dir / "orthogui-cli", "--version").strip() == (
        f"orthogui-cli {__version__}"
    )
    assert _run(installed, bin_dir / "orthogui", "--version").strip() == f"orthogui {__version__}"
    info = json.loads(_run(installed, bin_dir / "orthogui-cli", "info", DICOM, "--json"))
    assert (info["rows"], info["columns"], info["format"]) == (2140, 1760, "dicom")
    assert len(info["pixel_sha256"]) == 64
    # `python -m orthogui` is the same command set
    assert "predict" in _run(installed, sys.executable, "-m", "orthogui", "--help")


@pytest.mark.slow
def test_installed_cli_predicts_with_the_bundled_model(installed: dict[str, Path]) -> None:
    cards = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((installed["target"] / "orthogui_models").glob("*.json"))
    ]
    assert cards, "the wheel has no model card"
    name = cards[-1]["name"]
    out = installed["work"] / "results.json"
    _run(
        installed,
        installed["target"] / "bin" / "orthogui-cli",
        "predict",
        "--model",
        name,
        "--device",
        "cpu",
        "--out",
        out,
        IMAGE,
        timeout=240,
    )
    assert isinstance(json.loads(out.read_text(encoding="utf-8")), list)
    images = json.loads((installed["work"] / "results.images.json").read_text(encoding="utf-8"))
    assert images["info"]["model"] == name and len(images["images"]) == 1


@pytest.mark.slow
def test_installed_app_has_its_theme_and_builds_the_demo(installed: dict[str, Path]) -> None:
    code = (
        "import json, sys\n"
        "from orthogui.app import create_application\n"
        "from orthogui.demo import build_demo_project\n"
        "from orthogui.io.store import ProjectStore\n"
        "qapp = create_application(['orthogui'])\n"
        "path = build_demo_project(sys.argv[1], user='t')\n"
        "store = ProjectStore.open(path)\n"
        "images = store.model.images()\n"
        "print(json.dumps({'qss': 'QMainWindow' in qapp.styleSheet(), 'images': len(images),\n"
        "    'jpg': sum(i.path.endswith('.jpg') for i in images),\n"
        "    'outlines': len(store.model.annotations())}))\n"
        "store.close()\n"
    )
    out = _run(installed, sys.executable, "-c", code, installed["work"] / "demo")
    got = json.loads(out.strip().splitlines()[-1])
    assert got["qss"], "the installed app lost its style sheet"
    assert got["images"] == 11 and got["jpg"] == 4 and got["outlines"] > 0


def test_both_entry_points_answer_version(capsys: pytest.CaptureFixture[str]) -> None:
    from orthogui import app, cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip().endswith(__version__)
    with pytest.raises(SystemExit) as stop:
        app.build_parser().parse_args(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"orthogui {__version__}"
