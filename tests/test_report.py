"""genlab-report: mean ± std over seeds from finished run folders."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from genlab.report import report
from genlab.train import train

ELBO_TARGET = "genlab.objectives.vae_objectives.ELBO"
IWAE_TARGET = "genlab.objectives.vae_objectives.IWAE"


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
