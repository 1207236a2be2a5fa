"""model=stylegan2 with ADA: composes, trains a step, and its new state survives a checkpoint."""

from __future__ import annotations

import hydra
import pytest
import torch

from helpers.config import STYLEGAN2_TINY, compose_config

TINY = [*STYLEGAN2_TINY, "model/augment=ada"]


def test_stylegan2_ada_state_round_trips_through_a_checkpoint(tmp_path):
    cfg = compose_config(TINY, tmp_path)
    model = hydra.utils.instantiate(cfg.model)
    assert type(model.augment).__name__ == "ADA"
    assert model.d_terms["r1"].every == 16 and model.d_terms["r1"].weight == 5.0
    assert model.g_terms["pl"].every == 4 and model.g_terms["pl"].weight == 2.0
    model.augment.p.fill_(0.37)
    model.augment.observe(torch.ones(8))
    model.g_terms["pl"].pl_mean.fill_(0.123)
    path = tmp_path / "state.pt"
    torch.save(model.state_dict(), path)
    fresh = hydra.utils.instantiate(compose_config(TINY, tmp_path).model)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    for key in ("augment.p", "augment.sign_sum", "augment.count", "augment.steps",
                "g_terms.pl.pl_mean", "generator.mapping.w_avg"):  # fmt: skip
        assert torch.equal(fresh.state_dict()[key], model.state_dict()[key]), key
    assert float(fresh.augment.p) == pytest.approx(0.37, abs=1e-7)  # float32 buffer
