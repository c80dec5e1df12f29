"""Fixtures for training tests: one torch thread, a tiny synthetic snapshot, job files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES

SIZE = 128


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five synthetic limb radiographs at 128 px with exact COCO ground truth."""
    from orthogui.synth.dataset import write_dataset

    root = tmp_path_factory.mktemp("snapshot")
    write_dataset(root, n=5, seed=3, scene="limb", size=SIZE)
    return root


@pytest.fixture
def write_job(tmp_path: Path, snapshot: Path) -> Callable[..., Path]:
    """Write a job file for the tiny snapshot; keyword arguments override fields."""

    def make(*, hyper: dict[str, Any] | None = None, **fields: Any) -> Path:
        job: dict[str, Any] = {
            "snapshot": str(snapshot),
            "output": str(tmp_path / "run"),
            "models_dir": str(tmp_path / "models"),
            "categories": DEFAULT_CATEGORIES.names(),
            "model_name": "tiny",
            "image_size": SIZE,
            "device": "cpu",
            "threads": 1,
            "seed": 0,
            "checkpoint_every": 1,
            "hyper": {
                "max_steps": 3,
                "batch_size": 2,
                "warmup_steps": 1,
                "lr": 0.005,
                **(hyper or {}),
            },
            **fields,
        }
        path = tmp_path / "job.json"
        path.write_text(json.dumps(job), encoding="utf-8")
        return path

    return make
