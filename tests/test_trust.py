"""Trust boundaries (docs/reliability.md, trust model): no file genlab reads runs code.

genlab-eval builds nothing from a run folder's YAML outside the allow-list of genlab.run.trust,
and weights files are checked with ``weights_only=True`` before torch-fidelity unpickles them.
Each attack test asserts that its marker file is NOT created.
"""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from genlab.eval import evaluate
from genlab.run.trust import UntrustedTargetError, check_run_config_targets, target_problem
from helpers.config import compose_config


class _TouchOnUnpickle:
    """Pickles to ``open(marker, "w")``: unpickling it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _payload(marker: Path) -> dict:
    """The issue's attack: ``torch.load(weights_only=False)`` of a base64 pickle (config node)."""
    blob = base64.b64encode(pickle.dumps(_TouchOnUnpickle(marker))).decode()
    return {
        "_target_": "torch.load",
        "weights_only": False,
        "f": {
            "_target_": "io.BytesIO",
            "initial_bytes": {"_target_": "base64.b64decode", "s": blob},
        },
    }


def _run_folder(tmp_path: Path, data_node: dict) -> Path:
    """A run folder as genlab-train writes it, with ``data`` replaced by ``data_node``."""
    run = tmp_path / "received"
    ckpt = run / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"state_dict": {}, "epoch": 0, "global_step": 0}, ckpt)
    cfg = compose_config(["metrics=none"], tmp_path)
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))  # as genlab-train saves it
    cfg.data = OmegaConf.create(data_node)
    (run / ".hydra").mkdir()
    OmegaConf.save(cfg, run / ".hydra" / "resolved_config.yaml")
    return ckpt


def _eval_cfg(tmp_path: Path, ckpt: Path, *overrides: str):
    cfg = compose_config([f"ckpt_path={ckpt}", "metrics=none", *overrides], tmp_path, "eval")
    cfg.trainer.enable_progress_bar = False
    return cfg


def test_eval_refuses_the_torch_load_base64_payload_by_name(tmp_path):
    marker = tmp_path / "PWNED"
    ckpt = _run_folder(tmp_path, _payload(marker))
    with pytest.raises(UntrustedTargetError) as err:
        evaluate(_eval_cfg(tmp_path, ckpt))
    assert not marker.exists(), "the run folder's YAML ran code"
    text = str(err.value)
    for name in ("data._target_='torch.load'", "io.BytesIO", "base64.b64decode"):
        assert name in text
    assert "trust_run_config=true" in text


def test_eval_with_the_trust_flag_builds_what_the_run_config_names(tmp_path):
    """The explicit flag is the only way around the allow-list (and then the payload runs:
    which is why the flag exists only for run folders the user trusts)."""
    marker = tmp_path / "PWNED"
    ckpt = _run_folder(tmp_path, _payload(marker))
    with pytest.raises(Exception):  # noqa: B017 - the data "module" is not a datamodule
        evaluate(_eval_cfg(tmp_path, ckpt, "trust_run_config=true"))
    assert marker.exists()


@pytest.mark.parametrize(
    "target",
    [
        "genlab.nets.conv.torch.load",  # attribute walk from an allowed module to torch.load
        "torch.nn.functional.torch.load",
        "genlab.utils.checkpoint_io.load_checkpoint_file",  # genlab, but not a component
        "genlab.launch.ddp.run_job",
        "os.system",
        "builtins.eval",
        "torch.nn.modules.module.Module.load_state_dict.__globals__",
        123,
    ],
)
def test_targets_outside_the_allow_list_are_refused(target):
    assert target_problem(target) is not None


@pytest.mark.parametrize("model", ["vae", "iwae", "vqvae", "dcgan", "wgan_gp", "acgan", "cvae"])
def test_every_shipped_model_and_data_config_is_allowed(tmp_path, model):
    """A genuine run config of each model family passes the allow-list (nothing instantiated)."""
    cfg = compose_config([f"model={model}", "data.binarize=none"], tmp_path)
    checked = check_run_config_targets(cfg, ("data", "model"), "test")
    assert any(t.startswith("genlab.models.") for t in checked)
    assert any(t.startswith("genlab.data.") for t in checked)


def test_interpolated_targets_are_checked_resolved(tmp_path):
    cfg = OmegaConf.create({"evil": "os.system", "model": {"_target_": "${evil}", "command": "x"}})
    with pytest.raises(UntrustedTargetError, match=r"model\._target_='os\.system'"):
        check_run_config_targets(cfg, ("model",), "test")


# ----- weights files: checked with weights_only=True before torch-fidelity unpickles them --------
@pytest.mark.parametrize("via", ["config", "env", "hub"])
def test_pickled_inception_weights_are_refused_before_unpickling(tmp_path, monkeypatch, via):
    """A weights file that is a pickle payload (not a tensor file) must not run, whether it comes
    from ``metrics.inception_weights``, ``$GENLAB_INCEPTION_WEIGHTS`` or the torch hub cache."""
    import torch.hub

    from genlab.metrics import weights
    from genlab.metrics.extractors import InceptionExtractor

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    marker = tmp_path / "PWNED"
    bad = weights.hub_weights_path() if via == "hub" else tmp_path / "inception.pth"
    bad.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"net": _TouchOnUnpickle(marker)}, bad)
    if via == "env":
        monkeypatch.setenv(weights.ENV_VAR, str(bad))
    with pytest.raises(weights.UnsafeWeightsError, match="weights_only=True"):
        InceptionExtractor(str(bad) if via == "config" else None)
    assert not marker.exists(), "the weights file ran code"
