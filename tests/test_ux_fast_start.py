"""Issue 20 item 1: ``genlab-train debug=fast`` as a seconds-scale check. What each start
must not pay for (Optuna on every Hydra plugin scan), and the one-thread setting of debug=fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from genlab.run.validate import ConfigValueError, validate_train_config
from helpers.config import compose_config

SRC = Path(__file__).resolve().parents[1] / "src"

#: Hydra scans every module of ``hydra_plugins`` (not ``_``-prefixed ones) on each start; the
#: genlab sweeper module must not pull in Optuna then (it cost ~4 s of every genlab-train start).
SCAN = """
import sys
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
names = [p.__name__ for p in Plugins.instance().discover(Sweeper)]
assert "ResumableOptunaSweeper" in names, names
print(sorted(m for m in sys.modules if m == "optuna" or m.startswith("optuna.")))
"""


def test_hydra_plugin_scan_finds_the_sweeper_without_importing_optuna():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCAN], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"  # no optuna module loaded


@pytest.mark.slow  # imports Optuna (and torch with it): 9 s here under load
def test_the_sweeper_body_still_subclasses_hydras_optuna_impl():
    pytest.importorskip("optuna")
    from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl

    from hydra_plugins.genlab_optuna_sweeper._resumable_impl import ResumableOptunaSweeperImpl

    assert issubclass(ResumableOptunaSweeperImpl, OptunaSweeperImpl)


def test_debug_fast_runs_on_one_torch_thread(tmp_path):
    assert compose_config(["debug=fast"], tmp_path).torch_threads == 1
    assert compose_config([], tmp_path).torch_threads is None  # torch's default otherwise


@pytest.mark.parametrize("value", [0, -2, 1.5])
def test_torch_threads_must_be_a_positive_integer(tmp_path, value):
    cfg = compose_config([f"torch_threads={value}"], tmp_path)
    with pytest.raises(ConfigValueError, match="torch_threads"):
        validate_train_config(cfg)
