"""genlab-train drops Lightning's NVML-based CUDA check on machines without a GPU."""

from __future__ import annotations

import os

import pytest
import torch

from genlab.utils.torch_env import NVML_CHECK, drop_nvml_check_without_gpu


@pytest.mark.skipif(torch.cuda.is_available(), reason="the check is kept when a GPU exists")
def test_nvml_check_is_dropped_without_gpu(monkeypatch):
    monkeypatch.setenv(NVML_CHECK, "1")
    assert drop_nvml_check_without_gpu()
    assert NVML_CHECK not in os.environ
    assert not drop_nvml_check_without_gpu()  # nothing left to drop


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_nvml_check_is_kept_with_a_gpu(monkeypatch):
    monkeypatch.setenv(NVML_CHECK, "1")
    assert not drop_nvml_check_without_gpu()
