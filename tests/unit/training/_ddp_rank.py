"""One rank of the gloo DDP test (importable by spawned processes)."""

from __future__ import annotations

import os
from pathlib import Path


def train_rank(rank: int, world: int, port: int, job_path: str, out: str) -> None:
    import torch

    torch.set_num_threads(1)
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
        }
    )
    from orthogui.training.ddp import setup_distributed, teardown_distributed
    from orthogui.training.job import load_job
    from orthogui.training.worker import run_job

    job = load_job(job_path)
    dist = setup_distributed(job.device)
    try:
        outcome = run_job(job, emit=lambda e: None, dist=dist)
        torch.save(
            {"state": outcome.model.state_dict(), "step": outcome.step},
            Path(out) / f"rank{rank}.pt",
        )
    finally:
        teardown_distributed()
