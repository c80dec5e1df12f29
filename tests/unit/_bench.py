"""Load a script of ``bench/`` as a module (the folder is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` imported as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def tiny_card(folder: Path, labels: list[int]) -> Path:
    """A tiny published model at 128 px (random weights made to propose ``labels``)."""
    import torch

    from orthogui.ml.architectures import build_model
    from orthogui.ml.weights import build_options, save_weights
    from tests.unit.ml.conftest import card_for, wake_up

    torch.set_num_threads(1)
    card = card_for(size=128, score_threshold=0.3)
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    wake_up(model, card, labels, bias=2.0)
    published = save_weights(model, card, folder)
    assert published.source is not None
    return published.source
