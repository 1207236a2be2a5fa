"""The VAE zoo through the real console entry points (issue 16 must-show): for every new family,
``genlab-train model=<name> debug=fast`` writes sample images, a metrics history and
checkpoints, and ``genlab-eval ckpt_path=<its last.ckpt>`` evaluates that checkpoint (the
model rebuilt from the run's resolved config). The Ladder VAE and the VQ-VAE's PixelCNN prior
(second stage from a first-stage checkpoint) included; the prior's samples also feed FID.
Subprocess runs: 16-156 s per family on the shared 2-core CPU (measured at load 4-15): all slow.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from helpers.config import run_cli
from test_vae_zoo_models import ZOO

FAMILIES = [*ZOO, "lvae"]
FAST = ["debug=fast", "trainer=cpu", "metrics=none", "trainer.enable_progress_bar=false"]


def _train(tmp_path: Path, name: str, args: list[str]) -> Path:
    """``genlab-train`` into ``<tmp>/<name>``; check images, history and checkpoints."""
    run = tmp_path / name
    proc = run_cli([*args, *FAST, f"hydra.run.dir={run}"], tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list((run / "images" / "samples").glob("epoch_*.png"))
    with open(run / "csv" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert any(r.get("train/loss") for r in rows) and any(r.get("epoch") for r in rows)
    ckpt = run / "checkpoints" / "last.ckpt"
    assert ckpt.is_file() and len(list((run / "checkpoints").glob("epoch_*.ckpt"))) >= 1
    return ckpt


def _eval(tmp_path: Path, ckpt: Path, args: list[str]) -> dict:
    """``genlab-eval`` on ``ckpt``; return the metrics of the JSON it writes."""
    run = tmp_path / "eval"
    proc = run_cli(
        [f"ckpt_path={ckpt}", *args, "trainer.enable_progress_bar=false", f"hydra.run.dir={run}"],
        tmp_path,
        timeout=600,
        module="genlab.eval",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(ckpt.with_suffix(".eval.json").read_text())["metrics"]


@pytest.mark.slow  # 16-156 s per family (two subprocess runs; load 4-15) on the shared 2-core CPU
@pytest.mark.parametrize("name", FAMILIES)
def test_genlab_train_and_eval_run_each_vae_family(tmp_path, name):
    ckpt = _train(tmp_path, name, [f"model={name}", "model.test_iw_samples=20"])
    metrics = _eval(tmp_path, ckpt, ["metrics=none", "iw_samples=20"])
    for key in ("test/nll_iw", "test/elbo"):
        assert math.isfinite(metrics[key]), key
    assert metrics["test/nll_iw"] > 0  # -log p(x) of binary images: positive nats


@pytest.mark.slow  # 194 s on the shared 2-core CPU at load ~13 (first stage, prior, eval + FID)
def test_genlab_train_and_eval_run_the_pixelcnn_prior(tmp_path):
    small_vq = ["quantizer.num_codes=32", "encoder.hidden=16", "encoder.res_hidden=8"]
    first = _train(tmp_path, "vq", ["model=vqvae", *[f"model.{a}" for a in small_vq]])
    ckpt = _train(
        tmp_path,
        "prior",
        [
            "model=vqvae_prior",
            f"model.vqvae_ckpt={first}",
            *[f"model.vqvae.{a}" for a in small_vq],
            "model.pixelcnn.dim=16",
            "model.pixelcnn.num_layers=2",
        ],
    )
    metrics = _eval(
        tmp_path, ckpt, ["metrics.metrics=[fid]", "metrics.num_fake=100", "metrics.num_real=100"]
    )
    # bits per code of a K = 32 code grid lie in (0, log2 32]; the bound adds the reconstruction
    assert 0 < metrics["test/prior_bpc"] < math.log2(32) + 0.5  # + 0.5: an untrained prior
    assert metrics["test/bpd"] > metrics["test/recon_bpd"] > 0
    assert any(k.endswith("fid") and math.isfinite(v) for k, v in metrics.items()), metrics
