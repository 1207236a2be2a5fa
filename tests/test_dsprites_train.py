"""genlab-train on data=dsprites: the data's declared metrics (mig, dci) replace a defaulted
metrics.metrics, and each disentanglement family trains, writes its files and logs val/mig."""

from __future__ import annotations

import csv
import json
import math

import pytest

from genlab.run.data_metrics import adapt_metrics_to_data
from helpers.config import compose_config, run_cli


def test_dsprites_switches_defaulted_metrics_to_mig_and_dci(tmp_path):
    cfg = compose_config(["data=dsprites"], tmp_path)
    chosen, digits = cfg.copy(), cfg.copy()
    adapt_metrics_to_data(cfg, [])
    assert list(cfg.metrics.metrics) == ["mig", "dci"] and cfg.metrics.test is None
    adapt_metrics_to_data(chosen, ["metrics.metrics=[fid,is,kid,pr]"])  # the user's choice wins
    assert list(chosen.metrics.metrics) == ["fid", "is", "kid", "pr"]
    digits.data._target_ = "genlab.data.digits.DigitsDataModule"
    adapt_metrics_to_data(digits, [])  # data without declared metrics: unchanged
    assert list(digits.metrics.metrics) == ["fid", "is", "kid", "pr"]


@pytest.mark.slow  # 70-80 s per model measured on the shared 2-core CPU under load 15
@pytest.mark.parametrize("model", ["vae", "beta_vae", "beta_tc_vae"])
def test_genlab_train_debug_fast_on_dsprites_logs_mig(tmp_path, model):
    args = [
        f"model={model}",
        "data=dsprites",
        "debug=fast",
        "data.subset=3000",  # the 20k default renders in ~2 s; 3k keeps the test short
        "trainer=cpu",
        f"hydra.run.dir={tmp_path}/run",
    ]
    proc = run_cli(args, tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert any((run / "images").rglob("*.png"))
    assert any((tmp_path / "data" / "dsprites").glob("generated_64px_*.npz"))  # the cache
    with open(run / "csv" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    val_mig = [float(r["val/mig"]) for r in rows if r.get("val/mig")]
    assert val_mig and all(0.0 <= v <= 1.0 for v in val_mig)
    for key in ("val/dci_disentanglement", "val/dci_completeness", "val/dci_informativeness"):
        assert any(r.get(key) for r in rows), key
    summary = json.loads((run / "metrics.json").read_text())
    assert math.isfinite(summary["test/mig"]) and "val/fid" not in summary
    if model != "beta_tc_vae":
        return
    # genlab-eval on the checkpoint scores the run's dSprites data with MIG / DCI too
    ckpt = run / "checkpoints" / "last.ckpt"
    proc = run_cli(
        [f"ckpt_path={ckpt}", "iw_samples=5", f"hydra.run.dir={tmp_path}/eval"],
        tmp_path,
        module="genlab.eval",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(ckpt.with_suffix(".eval.json").read_text())
    assert "test/mig" in json.dumps(record) and "test/fid" not in json.dumps(record)
