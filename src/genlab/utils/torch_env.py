"""Process settings that cost time per step on CPU-only machines.

Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (so that ``torch.cuda.is_available``
does not initialise CUDA before a fork). torch's ``Optimizer.step`` asks
``torch.accelerator.is_available()`` at every step; with that variable set and no GPU, CUDA is
never initialised, the device count is never cached, and every optimizer step loads the NVML
library again through ctypes: about 0.9 ms per ``opt.step()`` on genlab's 2-core CPU machine
(measured in ``benchmarks/overhead.py``; 1.30 ms against 0.44 ms for a 10-parameter Adam step),
more than the whole step of a small net. A plain PyTorch loop, which never imports Lightning,
does not pay it.
"""

from __future__ import annotations

import os

import torch

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def drop_nvml_check_without_gpu() -> bool:
    """Unset ``PYTORCH_NVML_BASED_CUDA_CHECK`` when no CUDA device exists; return True if it did.

    With no device there is nothing a fork could lose, and torch's default check (the CUDA
    runtime's device count, answered once) is then used. Nothing changes on GPU machines.
    ``genlab.launch.job.isolated_job`` restores ``os.environ`` when the job ends.
    """
    if os.environ.get(NVML_CHECK) != "1" or torch.cuda.is_available():
        return False
    del os.environ[NVML_CHECK]
    return True
