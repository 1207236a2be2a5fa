"""Resume through a real checkpoint restores the VAE zoo's new state (issue 16): IAF and planar
flow parameters, the VampPrior's pseudo-inputs, the Ladder VAE's top-down prior and ladder
nets, and the PixelCNN prior of a VQ-VAE. As in test_resume_exact.py: a genlab-train run that
stops after epoch 1 (its last.ckpt, what a SIGKILL in epoch 2 leaves) and is resumed for
epoch 2 must end with the same weights, buffers and optimizer state as the uninterrupted
2-epoch run; the new state must also have moved in epoch 2 (else equality proves nothing).
Tolerance: 1e-6 absolute + 1e-5 relative per element (test_resume_exact.py's: the same ops in
the same order; float32 reductions may split differently between processes).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from genlab.train import train
from helpers.runs import straight_stopped_resumed
from test_resume_exact import ATOL, FAST, RTOL, _compare

CASES = {
    "iaf": (["model=vae_iaf", "model.posterior.hidden_dims=[16]"], ("posterior.",)),
    "planar": (["model=vae_planar", "model.posterior.num_flows=3"], ("posterior.",)),
    "vamp": (["model=vamp", "model.prior.num_components=10"], ("prior.",)),
    "lvae": (["model=lvae", "model.objective.warmup_steps=4"], ("prior.", "encoder.")),
}
VQ = ["model.quantizer.num_codes=32", "model.encoder.hidden=16", "model.encoder.res_hidden=8"]
PRIOR = [
    "model=vqvae_prior",
    "model.vqvae.quantizer.num_codes=32",
    "model.vqvae.encoder.hidden=16",
    "model.vqvae.encoder.res_hidden=8",
    "model.pixelcnn.dim=16",
    "model.pixelcnn.num_layers=2",
]


def _check_resume(tiny_cfg, overrides: list[str], prefixes: tuple[str, ...]) -> None:
    straight, stopped, resumed = straight_stopped_resumed(tiny_cfg, [*FAST, *overrides])
    for key in ("epoch", "global_step"):
        assert straight[key] == resumed[key], key
    new = [k for k in straight["state_dict"] if k.startswith(prefixes)]
    assert new, f"no state under {prefixes}"
    moved = [
        k
        for k in new
        if straight["state_dict"][k].is_floating_point()
        and not torch.allclose(stopped["state_dict"][k], straight["state_dict"][k], ATOL, RTOL)
    ]
    assert moved, f"none of {new} changed in epoch 2: the comparison would prove nothing"
    diffs = _compare(straight, resumed)
    assert not diffs, "resumed run differs from the uninterrupted one:\n" + "\n".join(diffs[:10])


@pytest.mark.slow  # 7-26 s per case on the shared 2-core CPU at load ~15 (three short runs)
@pytest.mark.parametrize("case", list(CASES))
def test_resume_restores_flows_pseudo_inputs_and_the_ladder(tiny_cfg, case):
    overrides, prefixes = CASES[case]
    _check_resume(tiny_cfg, overrides, prefixes)


@pytest.mark.slow  # 18 s on the shared 2-core CPU at load ~15 (a first stage, three prior runs)
def test_resume_restores_the_pixelcnn_prior(tiny_cfg):
    first = tiny_cfg(*FAST, "model=vqvae", *VQ, "trainer.max_epochs=1")
    OmegaConf.update(first, "paths.output_dir", str(Path(first.paths.output_dir) / "vq"))
    train(first)
    ckpt = Path(first.paths.output_dir) / "checkpoints" / "last.ckpt"
    _check_resume(tiny_cfg, [*PRIOR, f"model.vqvae_ckpt={ckpt}"], ("pixelcnn.",))
