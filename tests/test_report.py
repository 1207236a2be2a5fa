"""genlab-report: mean ± std over seeds from finished run folders."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from genlab.report import report
from genlab.train import train
from genlab.utils.config_dir import CONFIG_DIR
from helpers.config import run_cli
from helpers.runs import check_ok, sweep_dirs

ELBO_TARGET = "genlab.objectives.vae_objectives.ELBO"
IWAE_TARGET = "genlab.objectives.vae_objectives.IWAE"


@pytest.mark.slow  # 127 s on the shared 2-core machine under load ~10 (2026-12-02)
def test_report_groups_seeds_and_prints_paper_numbers(tiny_cfg, tmp_path):
    for objective, seed in [("elbo", 0), ("elbo", 1), ("iwae", 0), ("iwae", 1)]:
        cfg = tiny_cfg(f"model/objective={objective}", f"seed={seed}", "model.test_iw_samples=20")
        cfg.paths.output_dir = str(tmp_path / "sweep" / f"{objective}_{seed}")
        train(cfg)
    cfg = OmegaConf.create(
        {
            "runs": str(tmp_path / "sweep"),
            "columns": ["test/nll_iw", "val/elbo"],
            "group_by": ["model.objective._target_"],
            "references": {IWAE_TARGET: {"test/nll_iw": 84.78}},
        }
    )
    table = report(cfg)
    assert list(table["model.objective._target_"]) == [ELBO_TARGET, IWAE_TARGET]
    assert list(table["seeds"]) == [2, 2]
    mean, std = table.loc[0, "test/nll_iw"].split(" ± ")
    assert float(mean) > 0 and float(std) >= 0
    assert table.loc[1, "test/nll_iw (paper)"] == pytest.approx(84.78)
    assert "± " in (tmp_path / "sweep" / "report.md").read_text()


def test_report_without_runs_says_what_it_looked_for(tmp_path):
    cfg = OmegaConf.create({"runs": str(tmp_path), "columns": ["val/elbo"]})
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        report(cfg)


# ----- runs written by hand: the failure modes a real sweep can leave behind ----------------
def _fake_run(folder, config: dict, metrics) -> None:
    """Write a run folder as genlab-train leaves it (resolved config + metrics.json)."""
    (folder / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(config), folder / ".hydra" / "resolved_config.yaml")
    if metrics is not None:
        text = metrics if isinstance(metrics, str) else json.dumps(metrics)
        (folder / "metrics.json").write_text(text)


def _config(seed: int, objective: str, data: str = "genlab.data.digits.DigitsDataModule") -> dict:
    """A config whose per-run keys (seed, folders, ids) differ between seeds, as in real runs."""
    out = f"/runs/{objective}/{seed}"
    return {
        "seed": seed,
        "model": {"objective": {"_target_": objective}, "test_iw_samples": 1000},
        "data": {"_target_": data, "binarize": "dynamic", "seed": 0},
        "paths": {"output_dir": out},
        "trainer": {"default_root_dir": out},
        "callbacks": {"model_checkpoint": {"dirpath": f"{out}/checkpoints"}},
        "logger": {"wandb": {"save_dir": out, "id": f"id{seed}{objective}"}},
    }


def test_default_grouping_ignores_seeds_paths_and_ids(tmp_path):
    for i, (objective, seed, nll) in enumerate([("ELBO", 0, 90.0), ("ELBO", 1, 92.0),
                                                ("IWAE", 0, 88.0), ("IWAE", 1, 89.0)]):  # fmt: skip
        _fake_run(tmp_path / str(i), _config(seed, objective), {"test/nll_iw": nll})
    table = report(OmegaConf.create({"runs": str(tmp_path), "columns": ["test/nll_iw"]}))
    assert list(table["group"]) == [
        "model.objective._target_=ELBO",
        "model.objective._target_=IWAE",
    ]
    assert list(table["seeds"]) == [2, 2]
    assert list(table["test/nll_iw"]) == ["91.00 ± 1.41", "88.50 ± 0.71"]


def test_corrupt_unfinished_and_nan_runs_are_reported_not_averaged(tmp_path, caplog):
    _fake_run(tmp_path / "0", _config(0, "ELBO"), {"test/nll_iw": 90.0, "val/elbo": -95.0})
    _fake_run(tmp_path / "1", _config(1, "ELBO"), {"test/nll_iw": "nan", "val/elbo": -97.0})
    _fake_run(tmp_path / "2", _config(2, "ELBO"), '{"test/nll_iw": 9')  # truncated write
    _fake_run(tmp_path / "3", _config(3, "ELBO"), None)  # killed before the end
    cfg = OmegaConf.create({"runs": str(tmp_path), "columns": ["test/nll_iw", "val/elbo"]})
    with caplog.at_level("WARNING"):
        table = report(cfg)
    assert list(table["seeds"]) == [2]  # the corrupt and the unfinished run are not counted
    assert table.loc[0, "test/nll_iw"] == "90.00 ± nan (n=1 of 2: 1 NaN or missing)"
    assert table.loc[0, "val/elbo"] == "-96.00 ± 1.41"
    text = (tmp_path / "report.md").read_text()
    assert f"{tmp_path / '2' / 'metrics.json'}: corrupt" in text
    assert f"{tmp_path / '3'}: unfinished (no metrics.json)" in text
    assert "metrics.json: corrupt" in caplog.text


def test_reference_with_a_matching_protocol_is_printed_with_a_verdict(tmp_path):
    for seed in (0, 1):
        _fake_run(tmp_path / str(seed), _config(seed, "IWAE"), {"test/nll_iw": 85.0 + seed})
    ref = {"label": "IWAE", "metric": "test/nll_iw", "value": 84.78, "std": 0.1,
           "requires": {"data.binarize": "dynamic", "model.test_iw_samples": 1000}}  # fmt: skip
    cfg = {"runs": str(tmp_path), "columns": ["test/nll_iw"],
           "group_by": ["model.objective._target_"], "references": [ref]}  # fmt: skip
    table = report(OmegaConf.create(cfg))
    assert table.loc[0, "test/nll_iw (paper)"] == pytest.approx(84.78)
    assert table.loc[0, "test/nll_iw verdict"] == "within"  # 85.5 ± 0.71 overlaps 84.78 ± 0.1
    ref["requires"]["model.test_iw_samples"] = 5000
    table = report(OmegaConf.create(cfg))
    assert table.loc[0, "test/nll_iw verdict"] == (
        "not comparable: model.test_iw_samples=1000 (paper: 5000)"
    )


def test_mnist_reference_against_digits_runs_says_not_comparable(tmp_path):
    for seed in (0, 1):
        _fake_run(tmp_path / str(seed), _config(seed, "iwae"), {"test/nll_iw": 300.0 + seed})
    cfg = OmegaConf.create(
        {
            "runs": str(tmp_path),
            "columns": ["test/nll_iw"],
            "group_by": ["model.objective._target_"],
            "references_file": str(
                Path(CONFIG_DIR).parent / "benchmarks/references/vae_mnist.yaml"
            ),
        }
    )
    table = report(cfg)
    assert table.loc[0, "test/nll_iw (paper)"] == "not comparable"
    verdict = table.loc[0, "test/nll_iw verdict"]
    assert verdict.startswith("not comparable: data._target_=genlab.data.digits.DigitsDataModule")
    assert "84.78" not in (tmp_path / "report.md").read_text()


# ----- a real 2 x 2 multirun (2 configs x 2 seeds, launched with -m) --------------------------
@pytest.mark.slow
def test_report_on_a_real_multirun_groups_by_swept_keys(tmp_path):
    args = ["-m", "model=vae,iwae", "seed=0,1", "trainer.max_epochs=1",
            "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
            "+trainer.limit_test_batches=1", "trainer.enable_progress_bar=false",
            "metrics=none", "logger=csv", "callbacks=none", "model.test_iw_samples=10"]  # fmt: skip
    check_ok(run_cli(args, tmp_path))
    (sweep,) = sweep_dirs(tmp_path)
    mnist = {"data._target_": "genlab.data.torchvision_data.MNISTDataModule"}
    burda = {"label": "model=iwae", "metric": "test/nll_iw", "value": 84.78, "requires": mnist}
    cfg = {"runs": str(sweep), "columns": ["test/nll_iw"], "references": [burda]}
    table = report(OmegaConf.create(cfg))
    assert list(table["group"]) == ["model=iwae", "model=vae"]
    assert table.loc[0, "test/nll_iw (paper)"] == "not comparable"  # digits runs, MNIST number
    assert "84.78" not in (sweep / "report.md").read_text()
    assert list(table["seeds"]) == [2, 2]
    for label, jobs in (("model=iwae", (2, 3)), ("model=vae", (0, 1))):
        values = [
            json.loads((sweep / str(j) / "metrics.json").read_text())["test/nll_iw"] for j in jobs
        ]
        mean, std = statistics.mean(values), statistics.stdev(values)
        assert table.set_index("group").loc[label, "test/nll_iw"] == f"{mean:.2f} ± {std:.2f}"


def test_runs_of_different_sweeps_are_never_merged(tmp_path):
    """A genlab-bench folder holds one seed-only sweep per experiment: one group each."""
    for sweep, objective in (("vae", "ELBO"), ("iwae_k5", "IWAE")):
        (tmp_path / "s" / sweep).mkdir(parents=True)
        swept = OmegaConf.create({"swept_keys": ["seed"]})
        OmegaConf.save(swept, tmp_path / "s" / sweep / "sweep.yaml")
        for seed in (0, 1):
            run = tmp_path / "s" / sweep / str(seed)
            _fake_run(run, _config(seed, objective), {"test/nll_iw": 90.0 + seed})
            OmegaConf.save(OmegaConf.create([f"seed={seed}"]), run / ".hydra" / "overrides.yaml")
    table = report(OmegaConf.create({"runs": str(tmp_path / "s"), "columns": ["test/nll_iw"]}))
    assert list(table["group"]) == ["iwae_k5", "vae"]
    assert list(table["seeds"]) == [2, 2]
