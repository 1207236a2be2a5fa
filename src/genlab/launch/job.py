"""One Hydra job's lifetime: nothing a job changes in the process may leak into the next.

Hydra multirun runs jobs one after another in one process. Lightning's DDP launcher writes
MASTER_ADDR/MASTER_PORT/LOCAL_RANK/WORLD_SIZE/NODE_RANK into ``os.environ`` and leaves the
process group up, and W&B keeps its run open: without this, job 2 believes it is a DDP child
(LOCAL_RANK set) and never launches its ranks (Lightning issue #11300). The job's child ranks
are waited for (or killed, when the job failed) so none outlives its job.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist

from genlab.launch import ddp
from genlab.utils.wandb_utils import finish_wandb


@contextlib.contextmanager
def isolated_job() -> Iterator[None]:
    """Run a job, then finish W&B, end its DDP child ranks, tear down the process group and
    restore ``os.environ`` and torch's thread count (Lightning lowers it for DDP), also when
    the job raised."""
    saved_env = dict(os.environ)
    saved_threads = torch.get_num_threads()
    failed = True
    try:
        yield
        failed = False
    finally:
        try:
            finish_wandb(exit_code=1 if failed else 0)  # a failed job's run is marked failed
        finally:
            ddp.reap_children(failed=failed)
            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()
            os.environ.clear()
            os.environ.update(saved_env)
            torch.set_num_threads(saved_threads)
