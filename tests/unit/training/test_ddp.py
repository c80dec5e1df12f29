"""Two CPU processes train with DistributedDataParallel (gloo) and end with identical weights."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_gloo_ranks_end_with_identical_weights(
    write_job: Callable[..., Path], tmp_path: Path
) -> None:
    import torch
    import torch.multiprocessing as mp

    from tests.unit.training._ddp_rank import train_rank

    job = write_job(hyper={"max_steps": 2, "batch_size": 1}, checkpoint_every=0)
    mp.spawn(train_rank, args=(2, _free_port(), str(job), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["step"] == r1["step"] == 2
    assert r0["state"].keys() == r1["state"].keys()
    different = [k for k in r0["state"] if not torch.equal(r0["state"][k], r1["state"][k])]
    assert not different, different[:5]
    # Training moved the weights: the ranks agree on something other than the start.
    from orthogui.ml.architectures import BuildOptions, build_model

    torch.manual_seed(0)  # the job's seed: the worker builds the same initial network
    initial = build_model(
        "maskrcnn_mobilenet_v3_large_fpn_lite",
        BuildOptions(num_classes=8, min_size=128, max_size=128),
    ).state_dict()
    moved = [
        k
        for k, v in initial.items()
        if v.is_floating_point() and not torch.equal(v, r0["state"][k])
    ]
    assert len(moved) > len(initial) // 2
