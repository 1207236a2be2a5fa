"""genlab-report and genlab-train --help for a new user (issue 20, item 8): an ``n/a`` cell
says why, an earlier report.md is kept, failed runs are listed, --help lists only
genlab-train's groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from genlab.report import report
from genlab.run.help import config_groups, register_resolver
from genlab.utils.config_dir import CONFIG_DIR


def fake_run(folder: Path, seed: int, metrics: dict) -> None:
    """A finished run folder: resolved config + metrics.json (what genlab-train leaves; a
    non-finite value is written as a string, as ``genlab.utils.run_files.write_json`` does)."""
    (folder / ".hydra").mkdir(parents=True)
    OmegaConf.save(
        {"seed": seed, "model": {"name": "vae"}}, folder / ".hydra" / "resolved_config.yaml"
    )
    (folder / "metrics.json").write_text(json.dumps(metrics))


def run_report(root: Path, columns: list[str]):
    cfg = OmegaConf.create({"runs": str(root), "columns": columns, "group_by": []})
    return report(cfg)


def test_na_cells_say_why_and_an_earlier_report_is_kept(tmp_path):
    fake_run(tmp_path / "0", 0, {"test/elbo": -90.0, "test/fid": "nan"})
    fake_run(tmp_path / "1", 1, {"test/elbo": -92.0, "test/fid": "nan"})
    (tmp_path / "2").mkdir()
    (tmp_path / "2" / "FAILED").write_text("ValueError: data.image_size=28 is not supported\n")
    table = run_report(tmp_path, ["test/elbo", "val/fid", "test/fid"])
    assert table.loc[0, "val/fid"] == "n/a (not logged by these runs)"  # was a bare "n/a"
    assert table.loc[0, "test/fid"] == "n/a (2 of 2 NaN/inf or missing)"
    text = (tmp_path / "report.md").read_text()
    assert "val/fid is in no run's metrics.json" in text and "test/elbo" in text
    assert "2: failed (ValueError: data.image_size=28 is not supported)" in text
    first = text
    run_report(tmp_path, ["test/elbo"])
    kept = sorted(tmp_path.glob("report.*.md"))
    assert len(kept) == 1 and kept[0].read_text() == first  # not silently overwritten
    assert len(sorted(tmp_path.glob("report.*.csv"))) == 1
    assert "val/fid" not in (tmp_path / "report.md").read_text()


def test_train_help_lists_its_groups_without_suite():
    register_resolver()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", return_hydra_config=True)
    template = cfg.hydra.help.template
    assert "\nsuite:" not in template  # genlab-bench's group; genlab-train refuses it
    for group in ("model", "data", "trainer", "logger", "debug", "model/net"):
        assert f"\n{group}: " in template, group
    assert "debug: fast, overfit, profile" in template
    assert set(config_groups(skip=("suite",))) == set(config_groups()) - {"suite"}


@pytest.mark.slow  # a fresh interpreter importing hydra and pandas: ~5 s on the shared machine
def test_every_cli_registers_the_run_folder_resolver_it_composes_with():
    import subprocess
    import sys

    code = (
        "import sys, importlib; from omegaconf import OmegaConf; found = [];"
        "[(importlib.import_module(m), found.append(OmegaConf.has_resolver('genlab_unique_dir')),"
        " OmegaConf.clear_resolver('genlab_unique_dir')) for m in sys.argv[1:]]; print(found)"
    )
    modules = ["genlab.eval", "genlab.export", "genlab.report"]  # genlab-eval's CLI was broken
    out = subprocess.run(
        [sys.executable, "-c", code, *modules], capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "[True, True, True]", out.stderr[-1500:]
