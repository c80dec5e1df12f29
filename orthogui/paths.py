"""Where the files shipped with OrthoGUI are: ``resources/`` (style sheet, demo images) and
``models/`` (bundled model cards and weights), in a wheel, an editable install or a checkout.

The build maps the checkout's ``resources/`` and ``models/`` to the data packages
``orthogui_resources`` and ``orthogui_models`` (``pyproject.toml``); this module finds them
through ``importlib.resources`` and is the only place that knows where they are.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

RESOURCES_PACKAGE = "orthogui_resources"
MODELS_PACKAGE = "orthogui_models"

# A checkout run without installing (``PYTHONPATH=.``): the data packages are not importable
# under their installed names, but the folders are beside the code.
_CHECKOUT = Path(__file__).resolve().parents[1]


class BundleError(RuntimeError):
    """The installation lacks the files that ship with OrthoGUI."""


def _package_dir(package: str, checkout_folder: str) -> Path:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        folder = _CHECKOUT / checkout_folder
        if (folder / "__init__.py").is_file():
            return folder
        raise BundleError(
            f"{package} is not installed and there is no {folder}: reinstall OrthoGUI"
        ) from None
    if not isinstance(root, Path):  # e.g. imported from a zip file: we hand out real paths
        raise BundleError(f"{package} must be installed as files on disk, not in {root}")
    return root


def resources_dir() -> Path:
    """The folder of the shipped resources (``resources/`` in the checkout)."""
    return _package_dir(RESOURCES_PACKAGE, "resources")


def resource(*parts: str) -> Path:
    """A file or folder among the shipped resources, e.g. ``resource("style.qss")``.

    Parameters
    ----------
    parts
        Path components below ``resources/``.

    Returns
    -------
    Path
        Where it would be; whether it exists is for the caller to check.
    """
    return resources_dir().joinpath(*parts)


def bundled_models_dir() -> Path:
    """The folder of the bundled model cards and weights (``models/`` in the checkout)."""
    return _package_dir(MODELS_PACKAGE, "models")
