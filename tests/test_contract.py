"""The open core: callbacks and metrics use only the model contract; labels reach the model and
the sample grid; spatial latents pass through the default callbacks; a family added outside
``src/`` (one module + one config) trains through ``genlab-train``."""

from __future__ import annotations

import math
from pathlib import Path

import hydra
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

import genlab.callbacks.images as images
from genlab.callbacks.cadence import EpochCadence
from genlab.contract import GenerativeModel, require_generative
from genlab.train import train
from helpers.config import compose_config, run_cli
from helpers.metrics_fakes import TinyGenerator, TinyImageData

TESTS = Path(__file__).resolve().parent
FAST = [
    "trainer=cpu", "trainer.max_epochs=1", "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "trainer.log_every_n_steps=1",
    "trainer.enable_progress_bar=false", "data.batch_size=32", "data.image_size=16",
    "callbacks.sample_grid.every_n_epochs=1", "callbacks.reconstructions.every_n_epochs=1",
    "callbacks.interpolations.every_n_epochs=1", "logger=csv",
]  # fmt: skip
METRICS_ON = ["metrics.every_n_epochs=1", "metrics.num_fake=40", "metrics.num_real=40",
              "metrics.batch_size=20", "metrics.kid_subsets=5", "metrics.metrics=[fid,is]",
              "metrics.cache_dir=null"]  # fmt: skip


def _default_callbacks(tmp_path: Path) -> list[pl.Callback]:
    cfg = compose_config(["metrics.num_fake=24", "metrics.num_real=32"], tmp_path)
    callbacks = [hydra.utils.instantiate(node) for node in cfg.callbacks.values()]
    metrics = hydra.utils.instantiate(cfg.metrics, extractor="digits_classifier", cache_dir=None)
    metrics.every_n_epochs, metrics.metric_kwargs["kid_subsets"] = 1, 5
    return [*callbacks, metrics]


def test_every_default_callback_runs_on_a_model_with_only_the_contract(tmp_path):
    callbacks = _default_callbacks(tmp_path)
    for cb in callbacks:
        if isinstance(cb, images._EveryNEpochs):
            cb.cadence = EpochCadence(every_n_epochs=1)
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, logger=CSVLogger(tmp_path),
        enable_progress_bar=False, default_root_dir=tmp_path, callbacks=callbacks,
    )  # fmt: skip
    model = TinyGenerator(size=28)
    assert not {"sample_noise", "grid_labels", "encode"} & set(vars(TinyGenerator))
    trainer.fit(model, datamodule=TinyImageData(size=28))
    assert list((tmp_path / "images" / "samples").glob("epoch_*.png"))
    assert list((tmp_path / "images" / "interpolations").glob("epoch_*.png"))
    assert not (tmp_path / "images" / "reconstructions").exists()  # can_encode is False
    assert math.isfinite(float(trainer.callback_metrics["val/fid"]))
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()  # paths.output_dir


def test_a_model_without_the_contract_is_refused_with_the_fix():
    with pytest.raises(TypeError, match="GenerativeModel.*docs/extending.md"):
        require_generative(torch.nn.Linear(2, 2), "SampleGrid")


def _capture_grids(monkeypatch) -> list[tuple]:
    logged: list[tuple] = []
    original = images._EveryNEpochs._save

    def spy(self, trainer, name, imgs, nrow, labels=None):
        logged.append((name, imgs.clone(), nrow, labels))
        original(self, trainer, name, imgs, nrow, labels)

    monkeypatch.setattr(images._EveryNEpochs, "_save", spy)
    return logged


def test_conditional_gan_trains_with_labels_and_grid_has_one_row_per_class(tmp_path, monkeypatch):
    logged = _capture_grids(monkeypatch)
    seen_labels: list[torch.Tensor] = []
    original_step = GenerativeModel.sample_labels

    def spy_labels(self, num, generator=None):
        out = original_step(self, num, generator)
        seen_labels.append(out)
        return out

    monkeypatch.setattr(GenerativeModel, "sample_labels", spy_labels)
    cfg = compose_config(
        [*FAST, *METRICS_ON, "model=gan", "model.num_classes=${data.num_classes}",
         "model/gan_nets=cond_mlp", f"hydra.searchpath=[file://{TESTS / 'helpers' / 'conf'}]"],
        tmp_path,
    )  # fmt: skip
    metrics = train(cfg)
    assert math.isfinite(metrics["val/fid"]) and math.isfinite(metrics["val/is_mean"])
    assert any(t is not None and len(t) for t in seen_labels)  # metrics drew labels
    (grid,) = [entry for entry in logged if entry[0] == "samples"]
    _, imgs, nrow, labels = grid
    assert nrow == 64 // 10 and imgs.shape == (60, 1, 16, 16)
    assert torch.equal(labels.cpu().view(10, nrow), torch.arange(10)[:, None].expand(10, nrow))
    # the logged tensor is the model's output for those labels, and labels change it
    model = hydra.utils.instantiate(cfg.model)
    ckpt = torch.load(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    model.load_state_dict(ckpt["state_dict"])
    z = model.sample_noise(len(labels), torch.Generator().manual_seed(1234))
    assert torch.allclose(model.generate(z, labels), imgs, atol=1e-6)
    assert not torch.allclose(model.generate(z, (labels + 1) % 10), imgs, atol=1e-3)


def test_spatial_latents_pass_through_the_default_callbacks(tmp_path, monkeypatch):
    logged = _capture_grids(monkeypatch)
    cfg = compose_config(
        [*FAST, "metrics=none", "model=spatial_ae", "test=false",
         f"hydra.searchpath=[file://{TESTS / 'helpers' / 'conf'}]"],
        tmp_path,
    )  # fmt: skip
    train(cfg)
    names = {entry[0]: entry for entry in logged}
    assert set(names) == {"samples", "reconstructions", "interpolations"}
    assert names["interpolations"][1].shape == (8 * 10, 1, 16, 16)  # 8 pairs x 10 steps
    assert names["reconstructions"][1].shape == (64, 1, 16, 16)  # 32 images + 32 recons


@pytest.mark.slow  # ~10 s: a whole CLI/DDP run; the default pass stays under 4 min
def test_a_family_outside_src_is_one_module_and_one_config_through_the_cli(tmp_path):
    """The worked example of docs/extending.md: the model lives in tests/helpers/toy_models.py,
    its config in tests/helpers/conf/model/spatial_ae.yaml; genlab-train finds both."""
    args = [
        "model=spatial_ae",
        f"hydra.searchpath=[file://{TESTS / 'helpers' / 'conf'}]",
        *[a for a in FAST if not a.startswith("logger")],
        "logger=csv",
        "metrics=none",
    ]
    proc = run_cli(args, tmp_path, extra_pythonpath=[str(TESTS)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    assert list((run / "images" / "reconstructions").glob("*.png"))
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert "test/mse" in (run / "metrics.json").read_text()


def test_gans_get_grey_data_without_asking_and_a_conflicting_override_is_refused(tmp_path):
    from genlab.run.checks import adapt_data_to_model

    cfg = compose_config(["model=dcgan"], tmp_path)
    assert cfg.data.binarize == "dynamic"  # the digits default, for Bernoulli VAEs
    adapt_data_to_model(cfg)
    assert cfg.data.binarize == "none"
    vae = compose_config(["model=vae"], tmp_path)
    adapt_data_to_model(vae)
    assert vae.data.binarize == "dynamic"  # VAEs declare nothing: the data config decides


def test_conflicting_binarize_on_the_command_line_fails_before_training(tmp_path):
    args = ["model=dcgan", "data.binarize=dynamic", "trainer.max_epochs=1", "logger=csv"]
    proc = run_cli(args, tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "GAN trains on data.binarize=none" in proc.stderr
    assert "drop that override" in proc.stderr
    assert not list(tmp_path.glob("outputs/train/runs/*/checkpoints/*.ckpt"))
