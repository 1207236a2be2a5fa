"""Digits benchmark of the VQ-VAE's learned prior (issue 16, must-show (c)): FID of samples.

Per seed: train a VQ-VAE (``model=vqvae``, ``data=digits``) through ``genlab.train.train``,
then the gated PixelCNN prior over its code grid from that checkpoint as the second stage
(``model=vqvae_prior model.vqvae_ckpt=<run>/checkpoints/last.ckpt``), once conditional on the
labels (the default on digits) and once unconditional (``model.num_classes=0``). From each
prior's last checkpoint, ``--num-samples`` images are sampled with the same seeded noise
(``sample_noise``) and, for the conditional prior, balanced labels (i mod 10), both with
``sampler=pixelcnn`` (the learned prior) and ``sampler=uniform`` (every code uniform and
independent: the first stage's own prior; the same decoder). FID with genlab's shipped digits
classifier (``digits_classifier``, 128-d penultimate features; what ``extractor: auto`` picks
on digits) against the grey real images the sample metrics use: the 250 test images and the
first ``--num-samples`` (at most 1,297) train images. Also logged: the prior's test bits per
code (``test/prior_bpc``) and the full model's bits/dim bound (``test/bpd``).

Writes per-seed runs and mean / sample std to ``outputs/benchmarks/vqvae_prior_fid.json``.

    nice -n 10 python benchmarks/vqvae_prior_fid.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from seed_stats import mean_std  # benchmarks/ is on sys.path when run as a script

from genlab import api
from genlab.data.digits import DigitsDataModule
from genlab.metrics.extractors import build_extractor
from genlab.metrics.functional import fid_from_features

ROOT = Path(__file__).resolve().parents[1]
COMMON = [
    "data=digits",
    "trainer=cpu",
    "logger=csv",
    "metrics=none",
    "trainer.enable_progress_bar=false",
    "print_config=false",
    # no image grids: the PixelCNN's sequential sampling makes them the slow part on a CPU
    "~callbacks.sample_grid",
    "~callbacks.reconstructions",
    "~callbacks.interpolations",
    "~callbacks.traversals",
]
PRIORS = {"cond": [], "uncond": ["model.num_classes=0"]}


def fit(overrides: list[str], out_dir: Path) -> tuple[dict, float]:
    """Train and test one run into ``out_dir``; return (its final metrics, wall seconds)."""
    cfg = api.compose([*COMMON, *overrides], output_dir=out_dir, root_dir=ROOT)
    start = time.perf_counter()
    metrics = api.train(cfg)
    return {k: float(v) for k, v in metrics.items()}, round(time.perf_counter() - start, 1)


@torch.no_grad()
def sample_fids(ckpt: Path, num: int, seed: int, real: dict[str, torch.Tensor], extractor):
    """FID (digits features) of ``num`` samples of both samplers of the prior in ``ckpt``
    against each real set; the same seeded noise and labels for both samplers."""
    model = api.load_model(ckpt)
    noise = model.sample_noise(num, generator=torch.Generator().manual_seed(seed))
    labels = torch.arange(num) % 10 if model.num_classes else None
    real_features = {name: extractor(images).features for name, images in real.items()}
    out = {}
    for sampler in ("pixelcnn", "uniform"):
        model.sampler = sampler
        images = torch.cat([model.generate(z, y).cpu() for z, y in chunks(noise, labels)])
        fake = extractor(images.clamp(0, 1)).features
        for name, features in real_features.items():
            out[f"fid_{sampler}_{name}"] = fid_from_features(fake, features)
    for name in real_features:
        out[f"ratio_{name}"] = out[f"fid_uniform_{name}"] / out[f"fid_pixelcnn_{name}"]
    return out


def chunks(noise: torch.Tensor, labels: torch.Tensor | None, size: int = 250):
    """(noise, labels) in chunks of ``size`` rows (labels None stays None)."""
    for start in range(0, len(noise), size):
        y = None if labels is None else labels[start : start + size]
        yield noise[start : start + size], y


def merge(paths: list[Path], out: Path) -> None:
    """Join the runs of reports written by separate processes (one per seed, same protocol)
    into ``out`` with fresh summaries; refuse reports whose protocols differ."""
    reports = [json.loads(p.read_text()) for p in paths]
    for other, p in zip(reports[1:], paths[1:], strict=True):
        if other["protocol"] != reports[0]["protocol"]:
            raise ValueError(f"{p}: its protocol differs from {paths[0]}'s; not merged")
    merged = {**reports[0], "priors": {}}
    for report in reports:
        for name, entry in report["priors"].items():
            merged["priors"].setdefault(name, {"runs": []})["runs"].extend(entry["runs"])
    for entry in merged["priors"].values():
        runs = sorted(entry["runs"], key=lambda r: r["seed"])
        entry.update(runs=runs, summary=mean_std(runs, [k for k in runs[0] if k != "seed"]))
    out.write_text(json.dumps(merged, indent=2))
    print(f"wrote {out}")


def main() -> None:
    """Parse arguments, run every seed, write the JSON report, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--vqvae-epochs", type=int, default=20)
    parser.add_argument("--prior-epochs", type=int, default=30)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--priors", nargs="+", default=list(PRIORS), choices=list(PRIORS))
    parser.add_argument("--pixelcnn-dim", type=int, default=64, help="model.pixelcnn.dim")
    parser.add_argument("--pixelcnn-layers", type=int, default=8, help="model.pixelcnn.num_layers")
    parser.add_argument("--json-name", default="vqvae_prior_fid.json", help="report file name")
    parser.add_argument("--merge", type=Path, nargs="+", help="only merge these reports")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks")
    args = parser.parse_args()
    path = args.out / args.json_name
    if args.merge:
        merge(args.merge, path)
        return
    torch.set_num_threads(args.threads)
    data = DigitsDataModule()
    real = {
        "test": data.real_images("test", grey=True),
        "train": data.real_images("train", min(args.num_samples, 1297), grey=True),
    }
    extractor = build_extractor("digits_classifier")
    runs: dict[str, list[dict]] = {name: [] for name in args.priors}
    size = [
        f"model.pixelcnn.dim={args.pixelcnn_dim}",
        f"model.pixelcnn.num_layers={args.pixelcnn_layers}",
    ]
    for seed in args.seeds:
        base = args.out / "vqvae_prior_fid" / f"seed{seed}"
        vq, vq_s = fit(
            ["model=vqvae", f"seed={seed}", f"trainer.max_epochs={args.vqvae_epochs}"],
            base / "vqvae",
        )
        ckpt = base / "vqvae" / "checkpoints" / "last.ckpt"
        for name in args.priors:
            overrides = [
                "model=vqvae_prior",
                f"model.vqvae_ckpt={ckpt}",
                f"seed={seed}",
                f"trainer.max_epochs={args.prior_epochs}",
                *size,
                *PRIORS[name],
            ]
            prior, prior_s = fit(overrides, base / f"prior_{name}")
            fids = sample_fids(
                base / f"prior_{name}" / "checkpoints" / "last.ckpt",
                args.num_samples,
                seed,
                real,
                extractor,
            )
            run = {
                **fids,
                "prior_bpc": prior["test/prior_bpc"],
                "bpd": prior["test/bpd"],
                "recon_bpd": prior["test/recon_bpd"],
                "vqvae_test_bpd_uniform": vq["test/bpd"],
                "vqvae_seconds": vq_s,
                "prior_seconds": prior_s,
                "seed": seed,
            }
            runs[name].append(run)
            print(f"{name} seed {seed}: {run}", flush=True)
            report = {
                "priors": {
                    n: {"runs": r, "summary": mean_std(r, [k for k in r[0] if k != "seed"])}
                    for n, r in runs.items()
                    if r
                },
                "protocol": {
                    "data": "digits (sklearn 8x8 at 28 px, 1,297 train / 250 val / 250 test, "
                    "dynamic binarization)",
                    "vqvae_epochs": args.vqvae_epochs,
                    "prior_epochs": args.prior_epochs,
                    "num_samples": args.num_samples,
                    "extractor": "digits_classifier (128-d features)",
                    "real": {k: len(v) for k, v in real.items()},
                    "prior_overrides": {n: [*size, *PRIORS[n]] for n in args.priors},
                },
                "machine": {
                    "cpu_threads": args.threads,
                    "platform": platform.platform(),
                    "torch": torch.__version__,
                    "pytorch_lightning": pl.__version__,
                },
            }
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2))
    for name, entry in report["priors"].items():
        s = entry["summary"]
        print(
            f"{name}: FID(test) pixelcnn {s['fid_pixelcnn_test']['mean']:.2f} +- "
            f"{s['fid_pixelcnn_test']['std']:.2f}, uniform {s['fid_uniform_test']['mean']:.2f} "
            f"+- {s['fid_uniform_test']['std']:.2f}, ratio {s['ratio_test']['mean']:.2f}"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
