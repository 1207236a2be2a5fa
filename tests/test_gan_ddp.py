"""2-process DDP on CPU through the real entry point and ``trainer=ddp_cpu`` (gloo, with
``find_unused_parameters: false``): the GAN switches DDP's unused-parameter detection on
itself, trains without an unused-parameter error, ends with identical G/D/EMA weights on both
ranks, and draws training noise that differs across ranks and is reproducible for
(seed, rank). Each rank writes what it saw with the ``DumpRankState`` callback below (the
child rank imports it from this folder via PYTHONPATH).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from genlab.models.noise import D_STEP as NOISE_D
from genlab.models.noise import noise_seed
from helpers.config import run_cli

SEED, G_STEPS, N_CRITIC = 7, 6, 2


class DumpRankState(pl.Callback):
    """Saves each rank's parameters, step counters, noise seed and first training noise."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)
        self.find_unused = None

    def on_train_start(self, trainer, pl_module):
        self.find_unused = trainer.strategy.model.find_unused_parameters  # the DDP wrapper

    def on_train_end(self, trainer, pl_module):
        z = torch.randn(4, pl_module.latent_dim, generator=pl_module.noise_generator(0, NOISE_D))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "rank": trainer.global_rank,
                "seed": pl_module.noise.seed,
                "noise": z,
                "find_unused": self.find_unused,
                "steps": (pl_module.g_steps, pl_module.d_steps),
                "params": {k: p.detach().clone() for k, p in pl_module.named_parameters()},
            },
            self.out_dir / f"rank{trainer.global_rank}.pt",
        )


@pytest.mark.ddp
@pytest.mark.slow
def test_gan_ddp_cpu_two_ranks(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    dump = tmp_path / "ranks"
    proc = run_cli(
        [
            "experiment=gan_ring2d",
            "trainer=ddp_cpu",
            f"seed={SEED}",
            "logger=csv",
            f"model.max_g_steps={G_STEPS}",
            f"model.n_critic={N_CRITIC}",
            "data.num_train=2048",
            "data.batch_size=64",
            "trainer.enable_progress_bar=false",
            "+callbacks.dump._target_=test_gan_ddp.DumpRankState",
            f"+callbacks.dump.out_dir={dump}",
            f"paths.output_dir={tmp_path / 'run'}",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "unused parameters" not in proc.stderr
    r0, r1 = (torch.load(dump / f"rank{r}.pt") for r in (0, 1))
    assert r0["find_unused"] and r1["find_unused"]  # switched on by GAN.setup
    assert r0["steps"] == r1["steps"] == (G_STEPS, N_CRITIC * G_STEPS)
    assert any(k.startswith("generator_ema.") for k in r0["params"])
    for key, value in r0["params"].items():  # G, D and EMA weights agree across ranks
        assert torch.equal(value, r1["params"][key]), key
    assert not torch.equal(r0["noise"], r1["noise"])  # noise differs across ranks ...
    for r in (r0, r1):  # ... and depends on (seed, rank) only: reproducible
        assert r["seed"] == SEED
        gen = torch.Generator().manual_seed(noise_seed(SEED, r["rank"], 0, NOISE_D))
        assert torch.equal(r["noise"], torch.randn(4, 2, generator=gen))
