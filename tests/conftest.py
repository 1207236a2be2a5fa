"""Shared fixtures: compose genlab's real configs, shrunk to tiny CPU runs under tmp_path.
Helpers shared by test modules live in ``tests/helpers`` (test modules never import conftest)."""

from __future__ import annotations

import pytest
from omegaconf import DictConfig

from helpers.config import TINY, compose_config


@pytest.fixture
def tiny_cfg(tmp_path):
    """Factory: a tiny training config (digits, CPU, 2 short epochs) plus extra overrides."""

    def make(*overrides: str, name: str = "train") -> DictConfig:
        return compose_config([*TINY, *overrides], tmp_path, name)

    return make


@pytest.fixture(autouse=True)
def _offline_wandb(monkeypatch):
    """Every test runs W&B offline, silently, with no account."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
