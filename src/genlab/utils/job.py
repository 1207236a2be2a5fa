"""One Hydra job's lifetime: nothing a job changes in the process may leak into the next.

Hydra multirun runs jobs one after another in one process. Lightning's DDP launcher writes
MASTER_ADDR/MASTER_PORT/LOCAL_RANK/WORLD_SIZE/NODE_RANK into ``os.environ`` and leaves the
process group up, and W&B keeps its run open: without this, job 2 believes it is a DDP child
(LOCAL_RANK set) and never launches its ranks (Lightning issue #11300).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch.distributed as dist

from genlab.utils.wandb_utils import finish_wandb


@contextlib.contextmanager
def isolated_job() -> Iterator[None]:
    """Run a job, then finish W&B, tear down the process group and restore ``os.environ``."""
    saved_env = dict(os.environ)
    try:
        yield
    finally:
        try:
            finish_wandb()
        finally:
            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()
            os.environ.clear()
            os.environ.update(saved_env)
