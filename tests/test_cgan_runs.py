"""Each new GAN family end to end: genlab-train (debug=fast) on digits, then genlab-eval.

Slow (25-110 s each on a shared 2-core CPU): run with ``pytest -m slow tests/test_cgan_runs.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genlab.eval import evaluate
from genlab.train import train
from genlab.utils.wandb_utils import stage_protocol
from helpers.config import compose_config
from helpers.wandb_offline import read_offline_run

NETS = {
    "dcgan_cond": ["model.generator.base_channels=8", "model.discriminator.base_channels=8"],
    "acgan": ["model.generator.base_channels=8", "model.discriminator.base_channels=8"],
    "sngan_cond": ["model.generator.width=16", "model.discriminator.width=16", "model.n_critic=1"],
}


def run_family(tmp_path: Path, model: str, *extra: str) -> tuple[Path, dict]:
    cfg = compose_config(
        [
            f"model={model}",
            "data=digits",
            "data.image_size=16",
            "debug=fast",
            "logger=many",  # debug=fast logs to CSV only; these tests read the W&B run
            "trainer=cpu",
            "trainer.limit_train_batches=3",
            "trainer.enable_progress_bar=false",
            "data.batch_size=32",
            *NETS[model],
            *extra,
        ],
        tmp_path,
    )
    return Path(cfg.paths.output_dir), train(cfg)


@pytest.mark.parametrize(
    "model,extra",
    [
        pytest.param(
            "dcgan_cond",
            ["model/augment=diffaugment", "+model/d_terms=lecam", "model.d_terms.lecam.weight=0.1"],
            marks=pytest.mark.slow,
        ),
        pytest.param("acgan", ["metrics=none"], marks=pytest.mark.slow),
        pytest.param("sngan_cond", ["metrics=none"], marks=pytest.mark.slow),
    ],
)
def test_family_trains_logs_and_evaluates(tmp_path, model, extra):
    run, metrics = run_family(tmp_path, model, *extra)
    assert (run / "checkpoints" / "last.ckpt").is_file()
    samples = sorted((run / "images" / "samples").glob("epoch_*.png"))
    assert samples, "no sample grids"
    (wandb_dir,) = list((run / "wandb").glob("offline-run-*"))
    logged = read_offline_run(wandb_dir)
    assert any("train/d_loss" in row for row in logged.history)
    if model == "dcgan_cond":  # the regularizers' terms are logged; conditional metrics computed
        assert any("train/d_lecam" in row for row in logged.history)
        assert 0.0 <= metrics["test/class_acc"] <= 1.0
        cond = stage_protocol(logged.config["metrics_protocol"], "test")["conditional"]
        assert len(cond["class_acc_per_class"]) == 10 and cond["classifier"] == "digits_classifier"
    if model == "acgan":
        assert any("train/d_acgan" in row and "train/g_acgan" in row for row in logged.history)
    ckpt = run / "checkpoints" / "last.ckpt"
    eval_cfg = compose_config(
        [f"ckpt_path={ckpt}", "metrics.num_fake=200", "metrics.num_real=200"], tmp_path, "eval"
    )
    eval_cfg.trainer.enable_progress_bar = False
    if model != "dcgan_cond":
        eval_cfg.metrics = None
    results = evaluate(eval_cfg)
    assert "test/d_real" in results
    written = json.loads(ckpt.with_suffix(".eval.json").read_text())
    if model == "dcgan_cond":
        assert "test/class_acc" in results
        assert written["metrics_protocol"]["conditional"]["labels"] == "uniform over 10"
