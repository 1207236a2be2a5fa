"""genlab-bench: suites compose, the runner builds multirun command lines, and a tiny suite of
2 experiments x 2 seeds runs end to end into a table whose numbers equal the runs' own."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from genlab.bench.launch import multirun_command
from genlab.bench.run import bench, expected_gpu_hours
from genlab.utils.config_dir import CONFIG_DIR
from helpers.config import compose_config
from helpers.wandb_offline import _raw_records, read_offline_run

SUITES = sorted(p.stem for p in (Path(CONFIG_DIR) / "suite").glob("*.yaml"))


def _bench_cfg(tmp_path, *overrides):
    cfg = compose_config(list(overrides), tmp_path, name="bench")
    cfg.out_dir = str(tmp_path / "suite_out")
    return cfg


@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_composes_and_names_its_experiments(tmp_path, suite):
    cfg = _bench_cfg(tmp_path, f"suite={suite}")
    names = [e.name for e in cfg.suite.experiments]
    assert names and len(set(names)) == len(names)
    for exp in cfg.suite.experiments:
        multirun_command(
            OmegaConf.to_container(exp), [0], tmp_path, presets=cfg.suite.get("presets")
        )


def test_multirun_command_orders_overrides_so_extra_wins(tmp_path):
    exp = {"name": "a", "overrides": ["model=iwae"], "presets": ["small"]}
    cmd = multirun_command(exp, [0, 1], tmp_path / "a", ["trainer=cpu"], ["trainer=gpu"], "g",
                           presets={"small": ["data.image_size=16"]})  # fmt: skip
    assert cmd[:4] == [sys.executable, "-m", "genlab.train", "-m"]
    sweep = f"hydra.sweep.dir={tmp_path / 'a'}"
    assert cmd[4:] == ["trainer=cpu", "data.image_size=16", "model=iwae", "seed=0,1", sweep,
                       "++logger.wandb.group=g", "trainer=gpu"]  # fmt: skip
    with pytest.raises(KeyError, match="preset 'big'.*defined presets: \\['small'\\]"):
        multirun_command({"name": "a", "presets": ["big"]}, [0], tmp_path, presets={"small": []})


def test_paper_suite_prints_its_gpu_hours_and_dry_run_launches_nothing(tmp_path, capsys):
    cfg = _bench_cfg(tmp_path, "suite=paper", "dry_run=true")
    hours = expected_gpu_hours(OmegaConf.to_container(cfg.suite))
    assert hours > 100  # 3 seeds of SNGAN alone are ~75 GPU hours
    assert bench(cfg) == {"gpu_hours": hours}
    assert f"{hours:.1f} GPU hours" in capsys.readouterr().out
    assert not list((tmp_path / "suite_out").iterdir())


def _wandb_job_type(path) -> tuple[str, str]:
    from wandb.proto import wandb_internal_pb2 as pb

    for payload in _raw_records(path.read_bytes()):
        rec = pb.Record()
        rec.ParseFromString(payload)
        if rec.WhichOneof("record_type") == "run":
            return rec.run.job_type, rec.run.run_group
    raise AssertionError(f"no run record in {path}")


@pytest.mark.slow
def test_tiny_suite_end_to_end_matches_hand_computed_stats(tmp_path):
    cfg = _bench_cfg(tmp_path, "suite=tiny")
    out = tmp_path / "suite_out"
    result = bench(cfg)
    table = result["table"].set_index(["experiment", "metric"])
    for name in ("vae", "iwae_k2"):
        runs = sorted((out / name).glob("[0-9]"))
        assert len(runs) == 2
        for metric in ("test/nll_iw", "val/elbo"):
            values = [json.loads((r / "metrics.json").read_text())[metric] for r in runs]
            row = table.loc[(name, metric)]
            assert row["mean"] == pytest.approx(statistics.mean(values), rel=1e-12)
            assert row["std"] == pytest.approx(statistics.stdev(values), rel=1e-12)
            assert row["n"] == 2 and row["dropped"] == 0
            assert (
                f"| {name} | {metric} | {row['mean']:.2f} ± {row['std']:.2f} | 2 |"
                in (out / "report.md").read_text()
            )
    assert (out / "report.csv").is_file()
    for png in ("curves.png", "final_metrics.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    # the report's own W&B run: job_type report, in the suite's group, with table and figures
    (wandb_file,) = (out / "wandb").glob("offline-run-*/*.wandb")
    assert _wandb_job_type(wandb_file) == ("report", f"bench/tiny/{out.name}")
    logged = read_offline_run(wandb_file).history[0]
    assert {"report/table/nrows", "report/curves/path", "report/final_metrics/path"} <= set(logged)

    # a corrupt and an unfinished run are reported, not silently averaged
    (out / "vae" / "0" / "metrics.json").write_text("{not json")
    (out / "iwae_k2" / "1" / "metrics.json").unlink()
    cfg.collect_only, cfg.wandb.enabled = True, False
    table = bench(cfg)["table"].set_index(["experiment", "metric"])
    assert table.loc[("vae", "test/nll_iw"), "n"] == 1
    assert table.loc[("iwae_k2", "test/nll_iw"), "n"] == 1
    text = (out / "report.md").read_text()
    assert f"{out / 'vae' / '0' / 'metrics.json'}: corrupt" in text
    assert f"{out / 'iwae_k2' / '1'}: unfinished (no metrics.json)" in text


def test_claim_check_reads_the_means_in_order():
    import pandas as pd

    from genlab.bench.tables import check_claim

    table = pd.DataFrame(
        {
            "experiment": ["vae", "iwae_k5", "iwae_k50"],
            "metric": ["test/nll_iw"] * 3,
            "mean": [90.0, 89.0, 88.9],
            "std": [0.2, 0.3, 0.3],
        }  # fmt: skip
    )
    claim = {"text": "lower NLL", "metric": "test/nll_iw", "order": ["vae", "iwae_k5", "iwae_k50"],
             "direction": "decreasing"}  # fmt: skip
    line = check_claim(table, claim)
    assert "**holds (within seed noise)**" in line  # the last step (0.1) is below the std (0.3)
    assert "vae 90.00 ± 0.20 → iwae_k5 89.00 ± 0.30 → iwae_k50 88.90 ± 0.30" in line
    assert "**does not hold**" in check_claim(table, {**claim, "direction": "increasing"})
    assert "**not measured**" in check_claim(table, {**claim, "order": ["vae", "iwae_k9"]})
