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
    # Training moved the weights (the ranks agree on something that is not the start).
    start = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"]
    assert start == 2
