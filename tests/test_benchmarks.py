"""The benchmark scripts run (not timed here: numbers come from the scripts' JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_throughput_smoke_runs_on_cpu(tmp_path):
    """benchmarks/gpu_throughput.py --smoke on the CPU: every workload and mode, FID, JSON."""
    out = tmp_path / "gpu.json"
    env = {**os.environ, "WANDB_MODE": "offline", "GENLAB_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/gpu_throughput.py"),
            "--smoke",
            "--device=cpu",
            f"--out={out}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    report = json.loads(out.read_text())
    assert report["smoke"] and report["environment"]["device"].startswith("CPU")
    assert report["environment"]["data"].startswith("random uint8 tensors")  # said in the output
    for name in ("dcgan", "sngan", "vae_conv", "stylegan2", "biggan"):
        for mode in ("fp32", "bf16"):
            assert report["training"][name][mode]["images_per_second"] > 0
    assert report["training"]["sngan"]["fp32"]["g_steps_per_second"] > 0
    assert report["fid"]["64"]["seconds"] > 0
