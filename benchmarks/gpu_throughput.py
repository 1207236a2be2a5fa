"""Benchmark (not a test): training throughput and FID time on one accelerator.

Workloads at 32 px, batch 64, CIFAR-shaped data (real CIFAR-10 when its files are under
``--data-dir``/cifar-10-batches-py, else random uint8 tensors of that shape: the JSON says which):
  * DCGAN (n_critic 1) and SNGAN (ResNet nets, hinge loss, n_critic 5): training batches per
    second (one D step each; G steps = batches / n_critic), through genlab's GAN module and a
    Lightning Trainer, data on the device (``data.on_device``);
  * the conv VAE (Bernoulli on grey values of the same shape is not CIFAR's model; the Gaussian
    likelihood is used): images per second;
each in ``fp32`` (32-true), ``bf16`` (bf16-mixed) and ``bf16_compile`` (bf16-mixed +
``model.compile=true``; the compile time is the extra time of the first timed window).
Steady state: the first ``--warmup`` batches are not timed. Then FID-10k and FID-50k end to end
at 32 px: sampling from the DCGAN generator, InceptionV3 features (random weights: the timing is
that of the real network, the score is meaningless), running statistics and the Fréchet
distance, against reference statistics computed once beforehand (timed apart). Peak GPU memory
per workload (``torch.cuda.max_memory_allocated``), the card's name, torch/Lightning versions.

Usage: python benchmarks/gpu_throughput.py                 (on a GPU machine)
       python benchmarks/gpu_throughput.py --smoke         (tiny, any device: checks the script)
Writes outputs/benchmarks/gpu_throughput.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import compose  # noqa: E402

WORKLOADS = {
    "dcgan": ["model=dcgan"],
    "sngan": ["model=sngan", "model.n_critic=5"],
    # StyleGAN2 at 32 px with the official widths (channel_base 32768, max 512), lazy R1/PL, ADA
    "stylegan2": ["model=stylegan2", "model/augment=ada"],
    "biggan": ["model=biggan"],  # 32 px, ch 64, n_critic 4; labels are all 0 here (timing only)
    "vae_conv": ["model=vae", "model/net=conv", "model/likelihood=gaussian"],
}
SMOKE_NETS = {
    "dcgan": ["model.generator.base_channels=8", "model.discriminator.base_channels=8"],
    "sngan": ["model.generator.width=16", "model.discriminator.width=16"],
    "stylegan2": [
        "model.generator.channel_base=256",
        "model.generator.channel_max=16",
        "model.discriminator.channel_base=256",
        "model.discriminator.channel_max=16",
        "model.generator.latent_dim=16",
        "model.generator.w_dim=16",
    ],
    "biggan": ["model.generator.ch=4", "model.discriminator.ch=4"],
    "vae_conv": ["model.encoder.base_width=8", "model.decoder.base_width=8"],
}
MODES = {
    "fp32": ("32-true", False),
    "bf16": ("bf16-mixed", True),
    "bf16_compile": ("bf16-mixed", True),
}


def cifar_like(data_dir: Path, num: int) -> tuple[torch.Tensor, str]:
    """Return (uint8 images (num, 3, 32, 32), description of their source)."""
    folder = data_dir / "cifar-10-batches-py"
    if folder.is_dir():
        from torchvision.datasets import CIFAR10

        data = CIFAR10(str(data_dir), train=True, download=False).data[:num]
        return torch.from_numpy(data).permute(0, 3, 1, 2).contiguous(), f"CIFAR-10 train ({folder})"
    images = torch.randint(0, 256, (num, 3, 32, 32), dtype=torch.uint8)
    return images, f"random uint8 tensors of CIFAR-10's shape (no CIFAR-10 files at {folder})"


class Timer(pl.Callback):
    """Wall time of the batches after ``warmup`` (the device synchronised at each batch end)."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.batches, self.start, self.first = warmup, 0, None, None
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Count the batch; start the clock after ``warmup`` batches."""
        _sync(pl_module.device.type)
        self.batches += 1
        if self.batches == self.warmup:
            self.start = time.perf_counter()
            self.first = self.start - self.t0


def train_throughput(name: str, mode: str, args, images: torch.Tensor, workdir: Path) -> dict:
    """Train ``name`` for warmup + iters batches in ``mode``; return rates and peak memory."""
    import hydra
    from torch.utils.data import DataLoader

    from genlab.data.base import ImageCollate, TensorImageDataset

    precision, _ = MODES[mode]
    overrides = [*WORKLOADS[name], "data=cifar10", "data.binarize=none", "data.batch_size=64"]
    if args.smoke:
        overrides += SMOKE_NETS[name]
    if mode == "bf16_compile":
        overrides.append("model.compile=true")
    cfg = compose(overrides, workdir)
    torch.manual_seed(0)
    model = hydra.utils.instantiate(cfg.model)
    dataset = TensorImageDataset(images, torch.zeros(len(images), dtype=torch.long))
    dataset.to(args.device)  # data on the device: only indices cross per step
    loader = DataLoader(
        dataset, batch_size=64, shuffle=True, drop_last=True, collate_fn=ImageCollate()
    )
    timer = Timer(args.warmup)
    total = args.warmup + args.iters
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer = pl.Trainer(
        accelerator="gpu" if args.device == "cuda" else "cpu",
        devices=1,
        precision=precision,
        max_epochs=1,
        limit_train_batches=total,
        callbacks=[timer],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    if hasattr(model, "generator"):  # GAN: one training_step per batch
        model.hparams.max_g_steps = None
    trainer.fit(model, train_dataloaders=loader)
    seconds = time.perf_counter() - timer.start
    rate = args.iters / seconds
    result = {
        "batches_per_second": rate,
        "images_per_second": rate * 64,
        "warmup_seconds": timer.first,
    }
    if hasattr(model, "generator"):
        result["g_steps_per_second"] = rate / int(model.hparams.n_critic)
    if args.device == "cuda":
        result["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def fid_end_to_end(num: int, args, weights: str, workdir: Path) -> dict:
    """Seconds for FID with ``num`` generated images: sampling, features, statistics, distance."""
    import hydra

    from genlab.metrics.extractors import InceptionExtractor
    from genlab.metrics.fidelity import FID

    cfg = compose(
        ["model=dcgan", "data=cifar10", *(SMOKE_NETS["dcgan"] if args.smoke else [])], workdir
    )
    model = hydra.utils.instantiate(cfg.model).to(args.device).eval()
    extractor = InceptionExtractor(weights).to(args.device)
    metric = FID(extractor).to(args.device)
    batch = args.fid_batch
    start = time.perf_counter()
    real, _ = cifar_like(Path(args.data_dir), num)
    for chunk in real.split(batch):
        metric.update(chunk.to(args.device), real=True)
    _sync(args.device)
    reference_seconds = time.perf_counter() - start
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    generator = torch.Generator(device=args.device).manual_seed(0)
    with torch.no_grad():
        for first in range(0, num, batch):
            z = model.sample_noise(min(batch, num - first), generator=generator)
            metric.update(model.generate(z), real=False)
        fid = float(metric.compute())
    _sync(args.device)
    out = {"seconds": time.perf_counter() - start, "reference_seconds": reference_seconds}
    out["fid_random_weights"] = fid
    if args.device == "cuda":
        out["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def environment(device: str, data_source: str) -> dict:
    """Card, versions, data source."""
    card = (
        torch.cuda.get_device_name()
        if device == "cuda"
        else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    )
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "device": card,
        "torch": torch.__version__,
        "lightning": pl.__version__,
        "cuda": torch.version.cuda,
        "data": data_source,
    }


def main() -> None:
    """Run every workload and mode, then FID; print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--smoke", action="store_true", help="tiny nets and sizes, no compile")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--fid-sizes", default="10000,50000")
    parser.add_argument("--fid-batch", type=int, default=500)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--data-dir", default=os.environ.get("GENLAB_DATA_DIR", str(ROOT / "data")))
    parser.add_argument("--weights", default=None, help="InceptionV3 weights (default: random)")
    parser.add_argument("--out", default=str(ROOT / "outputs/benchmarks/gpu_throughput.json"))
    args = parser.parse_args()
    if args.smoke:
        args.warmup, args.iters, args.fid_sizes, args.fid_batch = 2, 3, "64", 32
        args.modes = ",".join(m for m in args.modes.split(",") if m != "bf16_compile")
    os.environ.setdefault("WANDB_MODE", "offline")
    import warnings

    warnings.filterwarnings("ignore")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    images, source = cifar_like(Path(args.data_dir), max(64 * (args.warmup + args.iters + 1), 1024))
    report = {
        "environment": environment(args.device, source),
        "smoke": args.smoke,
        "batch_size": 64,
        "training": {},
        "fid": {},
    }
    with tempfile.TemporaryDirectory(prefix="genlab_gpu_") as tmp:
        workdir = Path(tmp)
        for name in args.workloads.split(","):
            for mode in args.modes.split(","):
                res = train_throughput(name, mode, args, images, workdir)
                report["training"].setdefault(name, {})[mode] = res
                print(
                    f"{name:9s} {mode:13s} {res['batches_per_second']:8.2f} batches/s "
                    f"{res['images_per_second']:9.1f} img/s (warm-up {res['warmup_seconds']:.1f} s)"
                )
            modes = report["training"][name]
            if "bf16_compile" in modes and "bf16" in modes:
                modes["compile_seconds"] = (
                    modes["bf16_compile"]["warmup_seconds"] - modes["bf16"]["warmup_seconds"]
                )
                modes["compile_speedup"] = (
                    modes["bf16_compile"]["batches_per_second"]
                    / modes["bf16"]["batches_per_second"]
                )
        weights = args.weights
        if weights is None:
            sys.path.insert(0, str(ROOT / "tests"))
            from helpers.inception import save_random_inception_weights

            weights = str(save_random_inception_weights(workdir / "random_inception.pth"))
        for num in (int(n) for n in args.fid_sizes.split(",")):
            res = fid_end_to_end(num, args, weights, workdir)
            report["fid"][str(num)] = res
            print(
                f"FID-{num}: {res['seconds']:.1f} s end to end "
                f"(reference {res['reference_seconds']:.1f} s)"
            )
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
