"""Issue 20, item 10: samples out of a checkpoint (PNG folder / .npz), the Python API, the
debug modes."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from genlab import api
from genlab.export import export
from helpers.config import compose_config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """last.ckpt of a one-epoch VAE on digits, trained through the Python API."""
    root = tmp_path_factory.mktemp("api")
    cfg = api.compose(
        ["logger=csv", "metrics=none", "callbacks=none", "trainer=cpu", "trainer.max_epochs=1",
         "trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "test=false",
         "trainer.enable_progress_bar=false", "print_config=false",
         "+callbacks.model_checkpoint._target_=pytorch_lightning.callbacks.ModelCheckpoint",
         f"+callbacks.model_checkpoint.dirpath={root}/run/checkpoints",
         "+callbacks.model_checkpoint.save_last=true"],
        output_dir=root / "run", root_dir=root,
    )  # fmt: skip
    metrics = api.train(cfg)
    assert "val/elbo" in metrics
    return root / "run" / "checkpoints" / "last.ckpt"


def export_cfg(ckpt, out, fmt, num=10, seed=0):
    return OmegaConf.create(
        {"ckpt_path": str(ckpt), "run_config": None, "num": num, "seed": seed,
         "batch_size": 4, "format": fmt, "out": str(out)}
    )  # fmt: skip


def test_export_writes_png_folder_and_npz_that_agree(checkpoint, tmp_path):
    folder, npz = export(export_cfg(checkpoint, tmp_path / "s", "both"))
    pngs = sorted(folder.glob("*.png"))
    assert [p.name for p in pngs[:2]] == ["000000.png", "000001.png"] and len(pngs) == 10
    data = np.load(npz)
    assert data["arr_0"].shape == (10, 28, 28, 1) and data["arr_0"].dtype == np.uint8
    assert (data["labels"] == -1).all()  # unconditional
    first = np.asarray(Image.open(pngs[0]))
    assert np.array_equal(first, data["arr_0"][0, ..., 0])  # lossless, same sample
    again = np.load(export(export_cfg(checkpoint, tmp_path / "t", "npz"))[0])["arr_0"]
    assert np.array_equal(again, data["arr_0"])  # same seed, same samples
    other = np.load(export(export_cfg(checkpoint, tmp_path / "u", "npz", seed=1))[0])["arr_0"]
    assert not np.array_equal(other, data["arr_0"])


def test_load_model_returns_the_trained_weights(checkpoint):
    import torch

    model = api.load_model(checkpoint)
    state = torch.load(checkpoint, weights_only=True, map_location="cpu")["state_dict"]
    key = next(iter(state))
    assert torch.equal(model.state_dict()[key], state[key]) and not model.training


def test_export_refuses_a_bad_format_naming_the_choices(checkpoint, tmp_path):
    from genlab.run.validate import ConfigValueError

    with pytest.raises(ConfigValueError, match="allowed: png, npz, both"):
        export(export_cfg(checkpoint, tmp_path / "s", "jpg"))


def test_debug_overfit_and_profile_modes_compose(tmp_path):
    overfit = compose_config(["debug=overfit"], tmp_path)
    assert overfit.trainer.overfit_batches == 1 and overfit.test is False
    assert "wandb" not in overfit.logger and "_target_" not in (overfit.metrics or {})
    profile = compose_config(["debug=profile"], tmp_path)
    assert profile.trainer.profiler._target_.endswith("SimpleProfiler")
    fast = compose_config(["debug=fast", "model=iwae"], tmp_path)
    assert fast.debug_model.test_iw_samples == 20 and "wandb" not in fast.logger
