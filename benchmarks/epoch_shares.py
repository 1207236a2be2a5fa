"""Benchmark (not a test): where a default genlab epoch goes, on the job of ``peer_pythae.py``.

Runs ``genlab.train.train`` on the issue-21 job (digits 28 px, static binarization, MLP VAE,
batch 64, ``metrics=none``, ``logger=csv``) and times, per epoch: the training batches, the
validation (from the first ``on_validation_start`` to the last non-checkpoint
``on_validation_end``: validation steps, the model's and the image callbacks' epoch-end work,
epoch-end logging) and the checkpoint callback's hooks (in-memory copies and disk writes;
each disk write is also timed on its own). Epoch = one ``on_train_epoch_start`` to the next.
Cases (``--cases``): ``default`` (the config as shipped) and ``every_epoch``
(``callbacks.model_checkpoint.write_every_s=0``: a disk write at every save, the old cadence).
Cases are interleaved over ``--rounds``; medians over epochs 1..E-2 and rounds are reported.

``--profile-val``: cProfile of 20 validation passes of a trained default VAE (sorted by own
time), to see what ``validation_step`` / ``on_validation_epoch_end`` cost.

Usage: python benchmarks/epoch_shares.py [--rounds 3] [--epochs 12] [--threads 1]
Writes outputs/benchmarks/epoch_shares.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import compose, environment  # noqa: E402
from peer_pythae import JOB  # noqa: E402

CASES = {"default": [], "every_epoch": ["callbacks.model_checkpoint.write_every_s=0"]}
CLOCK: dict[str, list] = {}


def _stamp(key: str) -> None:
    CLOCK.setdefault(key, []).append(time.perf_counter())


class First:
    """Timer callback placed first: epoch and validation starts."""

    def __new__(cls):
        import pytorch_lightning as pl

        class Timer(pl.Callback):
            def on_train_epoch_start(self, trainer, pl_module):
                _stamp("epoch_start")

            def on_validation_start(self, trainer, pl_module):
                if not trainer.sanity_checking:
                    _stamp("val_start")

        return Timer()


class Last:
    """Timer callback placed after every other non-checkpoint callback: validation ends."""

    def __new__(cls):
        import pytorch_lightning as pl

        class Timer(pl.Callback):
            def on_validation_end(self, trainer, pl_module):
                if not trainer.sanity_checking:
                    _stamp("val_end")

        return Timer()


def patch_checkpoint_timers() -> None:
    """Time every ModelMonitorCheckpoint hook (per epoch) and each disk write (per file)."""
    from genlab.callbacks import checkpoint as ck

    def timed(fn, key):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                CLOCK.setdefault(key, []).append((start, time.perf_counter() - start))

        return wrapper

    cls = ck.ModelMonitorCheckpoint
    for hook in ("on_validation_end", "on_train_epoch_end", "on_train_batch_end"):
        setattr(cls, hook, timed(getattr(cls, hook), "ckpt_hooks"))
    io = ck.AtomicCheckpointIO
    io.save_checkpoint = timed(io.save_checkpoint, "disk_write")


def run_case(extra: list[str], epochs: int, workdir: Path) -> dict:
    """One training run; per-epoch seconds of training, validation and checkpoint hooks."""
    from omegaconf import OmegaConf

    from genlab.train import train

    cfg = compose([*JOB, "logger=csv", *extra, f"trainer.max_epochs={epochs}"], workdir)
    nodes = dict(cfg.callbacks)
    new = {"timer_first": {"_target_": f"{__name__}.First"}}
    new.update({k: OmegaConf.to_container(v) for k, v in nodes.items()})
    new["timer_last"] = {"_target_": f"{__name__}.Last"}
    cfg.callbacks = OmegaConf.create(new)
    CLOCK.clear()
    start = time.perf_counter()
    train(cfg)
    total = time.perf_counter() - start
    ep, vs, ve = CLOCK["epoch_start"], CLOCK["val_start"], CLOCK["val_end"]
    per_epoch_ckpt = _per_epoch(CLOCK.get("ckpt_hooks", []), ep)
    rows = []
    for e in range(1, epochs - 1):  # epoch 0 warms up; the last has no next start
        rows.append(
            {
                "epoch": ep[e + 1] - ep[e],
                "train": vs[e] - ep[e],
                "validation": ve[e] - vs[e],
                "checkpoint": per_epoch_ckpt[e],
            }
        )
    writes = [seconds for _, seconds in CLOCK.get("disk_write", [])]
    return {"total_seconds": total, "epochs": rows, "disk_writes": writes}


def _per_epoch(calls: list[tuple[float, float]], starts: list[float]) -> list[float]:
    """Sum (start, seconds) calls per epoch, epoch e = [starts[e], starts[e + 1])."""
    sums = [0.0] * len(starts)
    for at, seconds in calls:
        epoch = sum(1 for s in starts if s <= at) - 1
        if epoch >= 0:
            sums[epoch] += seconds
    return sums


def summarize(runs: list[dict]) -> dict:
    """Medians over epochs and rounds; shares of an epoch."""
    rows = [r for run in runs for r in run["epochs"]]
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    mean = {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}
    writes = [w for run in runs for w in run["disk_writes"]]
    return {
        "seconds_per_epoch_median": med,
        "seconds_per_epoch_mean": mean,
        "share_of_epoch_median": {k: med[k] / med["epoch"] for k in med if k != "epoch"},
        "share_of_epoch_mean": {k: mean[k] / mean["epoch"] for k in mean if k != "epoch"},
        "disk_writes_per_run": [len(run["disk_writes"]) for run in runs],
        "disk_write_seconds_median": statistics.median(writes) if writes else None,
        "total_seconds": [run["total_seconds"] for run in runs],
    }


def profile_validation(workdir: Path, passes: int = 20) -> str:
    """cProfile text of ``passes`` validation runs of a default VAE trained for 2 epochs."""
    import cProfile
    import io
    import pstats

    import hydra
    import pytorch_lightning as pl

    cfg = compose([*JOB, "logger=csv", "trainer.max_epochs=2"], workdir)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.validate(model, datamodule=datamodule, verbose=False)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(passes):
        trainer.validate(model, datamodule=datamodule, verbose=False)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats("vae.py|step_logging|result|logger_connector", 20)
    return out.getvalue()


def main() -> None:
    """Run the cases interleaved; print shares and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--profile-val", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "outputs/benchmarks/epoch_shares.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "genlab"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from genlab.utils.torch_env import drop_nvml_check_without_gpu

    drop_nvml_check_without_gpu()
    with tempfile.TemporaryDirectory(prefix="genlab_shares_") as tmp:
        if args.profile_val:
            print(profile_validation(Path(tmp)))
            return
        patch_checkpoint_timers()
        cases = args.cases.split(",")
        runs: dict[str, list[dict]] = {c: [] for c in cases}
        for rnd in range(args.rounds):
            for case in cases if rnd % 2 == 0 else cases[::-1]:
                runs[case].append(run_case(CASES[case], args.epochs, Path(tmp)))
                print(f"round {rnd + 1} {case}: {runs[case][-1]['total_seconds']:.2f} s")
        report = {"environment": environment(), "rounds": args.rounds, "epochs": args.epochs}
        report["cases"] = {c: summarize(r) for c, r in runs.items()}
        report["runs"] = runs
    for case, res in report["cases"].items():
        ms = {k: round(v * 1e3, 1) for k, v in res["seconds_per_epoch_median"].items()}
        share = {k: round(v, 3) for k, v in res["share_of_epoch_median"].items()}
        print(f"{case}: ms/epoch {ms} shares {share} writes/run {res['disk_writes_per_run']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
