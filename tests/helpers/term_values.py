"""Fixed-seed loss values of every model config, for the before/after equality check.

``run_values(name)`` trains one configuration of ``CASES`` for a few steps on CPU (fixed seed,
``log_every_n_steps=1``, no metrics, callbacks or checkpoints) and returns the logged training
values per step from the CSV history. ``tests/data/term_values.json`` holds the values written
on the commit before the open-objectives refactor; ``tests/test_term_equality.py`` re-runs every
case and compares, so a refactor that changes a loss shows up as a failing case.

Regenerate the reference only when a change is meant to alter the numbers (and say so):

    PYTHONPATH=tests python -m helpers.term_values tests/data/term_values.json
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

from helpers.config import compose_config

BASE = [
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=0",
    "trainer.log_every_n_steps=1",
    "trainer.enable_progress_bar=false",
    "data.batch_size=16",
    "metrics=none",
    "callbacks=none",
    "logger=csv",
    "test=false",
    "seed=7",
]
TINY_GAN = ["model.generator.base_channels=8", "model.discriminator.base_channels=8"]
TINY_RES = ["model.generator.width=16", "model.discriminator.width=16"]

#: name -> overrides (on top of BASE): every model config, plus the GAN terms switched on
CASES: dict[str, list[str]] = {
    "vae": ["model=vae"],
    "beta_vae": ["model=beta_vae"],
    "iwae": ["model=iwae"],
    "cvae": ["model=cvae"],
    "vqvae": ["model=vqvae", "model.encoder.hidden=16", "model.encoder.res_hidden=8"],
    "dcgan": ["model=dcgan", *TINY_GAN],
    "gan": ["model=gan", *TINY_GAN],
    "wgan_gp": ["model=wgan_gp", "model.n_critic=2", *TINY_GAN],
    "dcgan_cond": ["model=dcgan_cond", *TINY_GAN],
    "acgan": ["model=acgan", *TINY_GAN],
    "sngan": ["model=sngan", "data.image_size=16", "model.n_critic=2", *TINY_RES],
    "sngan_cond": ["model=sngan_cond", "data.image_size=16", "model.n_critic=2", *TINY_RES],
    "gan_mlp": ["model=gan_mlp", "data=ring2d", "model.max_g_steps=4"],
    "dcgan_r1_ema": [
        "model=dcgan",
        "+model/d_terms=r1",  # before the GAN terms: model.r1_gamma=10
        "model.d_terms.r1.gamma=10",
        "model.ema_decay=0.9",
        *TINY_GAN,
    ],
    "acgan_lecam_diffaug": [  # before: model.lecam_weight=0.3 model.diffaugment=[...]
        "model=acgan",
        "+model/d_terms=lecam",
        "model.d_terms.lecam.weight=0.3",
        "model/augment=diffaugment",
        "model.augment.policy=[color,translation,cutout]",
        *TINY_GAN,
    ],
}


def _history(output_dir: Path) -> dict[str, list[float]]:
    """Return ``train/*`` columns of ``<output_dir>/csv/metrics.csv`` as lists (NaN dropped)."""
    rows = list(csv.DictReader((output_dir / "csv" / "metrics.csv").open()))
    out: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith("train/") and value not in ("", None):
                out.setdefault(key, []).append(float(value))
    return {k: v for k, v in out.items() if not all(math.isnan(x) for x in v)}


def run_values(name: str, tmp_path: Path) -> dict[str, list[float]]:
    """Train case ``name`` for a few fixed-seed steps under ``tmp_path``; return its history."""
    from genlab.train import train

    cfg = compose_config([*BASE, *CASES[name]], tmp_path)
    train(cfg)
    return _history(Path(cfg.paths.output_dir))


def main(path: str) -> None:
    """Write every case's values to ``path`` (JSON: case -> key -> per-step values)."""
    import tempfile

    values = {}
    for name in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            values[name] = run_values(name, Path(tmp))
        print(name, sorted(values[name]), flush=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
