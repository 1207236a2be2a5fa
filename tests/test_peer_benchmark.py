"""benchmarks/peer_pythae.py runs (not timed here: the numbers come from its JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_peer_pythae_smoke_runs_every_variant(tmp_path):
    """--smoke: 2 epochs, 1 round, K = 10, every variant (about 30 s of CPU on 2 cores)."""
    pytest.importorskip("pythae")
    out = tmp_path / "peer.json"
    env = {**os.environ, "WANDB_MODE": "offline", "GENLAB_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/peer_pythae.py"), "--smoke", f"--out={out}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    report = json.loads(out.read_text())
    assert report["smoke"] and report["sizes"] == {"train": 1297, "val": 250, "test": 250}
    variants = {"pythae", "genlab_default", "genlab_csv", "genlab_bare", "hand", "hand_eval"}
    assert set(report["seconds_median"]) == variants
    # 2 epochs of a Bernoulli VAE on 784 binary pixels: NLL between 0 and 784 log 2 = 543 nats
    for name, nll in report["test_nll_median"].items():
        assert 0 < nll < 784 * 0.6931472, name
