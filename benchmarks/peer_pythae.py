"""Benchmark (not a test): the same small VAE job in pythae 0.1.2 and in genlab, side by side.

The job (issue 21): scikit-learn digits at 28 px from genlab's digits datamodule with static
binarization (1,297 train / 250 val / 250 test images, split seed 0), a 784-400-16 MLP VAE
(ReLU, Gaussian posterior, N(0, I) prior, Bernoulli likelihood), Adam lr 1e-3, batch 64,
30 epochs, evaluation on the held-out val split after every epoch. Every variant reads the
SAME tensors (the datamodule's; pythae gets them as float tensors):

  * ``pythae``: ``TrainingPipeline`` + ``BaseTrainerConfig`` (its ``BaseTrainer``; eval every
    epoch, deep copy of the best model, final model saved to disk), custom encoder/decoder of
    the same sizes;
  * ``genlab_default``: ``genlab.train.train`` with the default config and ``metrics=none``
    (CSV + offline W&B loggers, checkpoints, image callbacks every 5 epochs, progress bar);
  * ``genlab_csv``: the same with ``logger=csv`` (pythae writes a text log only);
  * ``genlab_bare``: genlab's module and datamodule in a ``Trainer`` with no logger,
    callbacks, checkpoints, progress bar or validation;
  * ``hand`` / ``hand_eval``: a hand-written PyTorch loop on the same nets, data and math
    (``overhead_loops.vae_loop``), without / with the per-epoch val ELBO.

Fit time: wall seconds of the whole call a user makes (pipeline call, ``train(cfg)`` with
``test=false``, ``trainer.fit``, the loop), setup included. Test NLL: importance-sampled
-log p(x) with K = 1000 on the 250 test images, the same estimator (``iw_nll`` below, seeded)
for both frameworks; genlab's own ``VAE.iw_nll`` (what ``test/nll_iw`` logs) is reported too.
Variants are interleaved and the rotation is repeated ``--rounds`` times (medians reported),
so load from other processes on a shared machine spreads over all of them.
Threads: ``--threads 1`` by default (see ``overhead.py``: with more threads than free cores,
OpenMP waits dominate on a loaded 2-core machine).

Usage: python benchmarks/peer_pythae.py [--rounds 3] [--epochs 30] [--threads 1]
       python benchmarks/peer_pythae.py --smoke     (2 epochs, 1 round, K = 10: a quick check)
Writes outputs/benchmarks/peer_pythae.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import compose, environment  # noqa: E402
from overhead_loops import batches, vae_loop  # noqa: E402

JOB = [
    "trainer=cpu",
    "model=vae",
    "data=digits",
    "data.image_size=28",
    "data.binarize=static",
    "data.batch_size=64",
    "model.latent_dim=16",
    "model.optimizer.lr=1e-3",
    "metrics=none",
    "test=false",
]
GENLAB = {"genlab_default": [], "genlab_csv": ["logger=csv"]}


class FitProbe:
    """Test callback (added through the config): keeps the trained module and fit seconds."""

    last: dict = {}

    def __new__(cls):
        import pytorch_lightning as pl

        class Probe(pl.Callback):
            def on_fit_start(self, trainer, pl_module):
                cls.last = {"module": pl_module, "start": time.perf_counter()}

            def on_fit_end(self, trainer, pl_module):
                cls.last["fit_seconds"] = time.perf_counter() - cls.last["start"]

        return Probe()


def job_tensors(workdir: Path) -> dict[str, torch.Tensor]:
    """The datamodule's split tensors: split -> float images (N, 1, 28, 28) in {0, 1}."""
    import hydra

    datamodule = hydra.utils.instantiate(compose(JOB, workdir).data)
    datamodule.setup("fit")
    return {s: datamodule.dataset(s).images.float() for s in ("train", "val", "test")}


def iw_nll(encode, logits, x: torch.Tensor, k: int, seed: int = 0, chunk: int = 100) -> float:
    """Mean importance-sampled NLL of images x (N, 1, H, W) in {0, 1}, nats per image.

    ``encode(x) -> (mu, logvar)`` (N, D) each; ``logits(z) -> (N, H*W)`` Bernoulli logits.
    -log p(x) ~= -(logsumexp_k log w_k - log K), log w = log p(x|z) + log p(z) - log q(z|x),
    z ~ q(z|x) = N(mu, diag exp(logvar)); samples from a generator seeded with ``seed``.
    """
    gen = torch.Generator().manual_seed(seed)
    log2pi = math.log(2 * math.pi)
    out = []
    with torch.no_grad():
        for xb in x.split(50):
            xf = xb.flatten(1)
            mu, logvar = encode(xb)
            std = (0.5 * logvar).exp()
            log_w = []
            for start in range(0, k, chunk):
                n = min(chunk, k - start)
                eps = torch.randn(n, *mu.shape, generator=gen)
                z = mu + std * eps
                log_q = -0.5 * (eps**2 + logvar + log2pi).sum(-1)
                log_p = -0.5 * (z**2 + log2pi).sum(-1)
                lg = logits(z.flatten(0, 1)).view(n, *xf.shape)
                log_px = -F.binary_cross_entropy_with_logits(
                    lg, xf.expand_as(lg), reduction="none"
                ).sum(-1)
                log_w.append(log_px + log_p - log_q)
            out.append(-(torch.logsumexp(torch.cat(log_w), 0) - math.log(k)))
    return torch.cat(out).mean().item()


# ----- pythae -------------------------------------------------------------------------------
def pythae_nets(latent_dim: int):
    """pythae encoder/decoder with genlab's MLP sizes (784-400-2*16, 16-400-784)."""
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self):
            BaseEncoder.__init__(self)
            hidden = (nn.Linear(784, 400), nn.ReLU())
            self.body = nn.Sequential(*hidden, nn.Linear(400, 2 * latent_dim))

        def forward(self, x):
            mu, logvar = self.body(x.flatten(1)).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self):
            BaseDecoder.__init__(self)
            self.net = nn.Sequential(nn.Linear(latent_dim, 400), nn.ReLU(), nn.Linear(400, 784))

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)).view(-1, 1, 28, 28))

    return Encoder(), Decoder()


def run_pythae(data: dict, epochs: int, workdir: Path, seed: int) -> tuple[float, object]:
    """Train with pythae's TrainingPipeline; return (seconds, model)."""
    from pythae.models import VAE, VAEConfig
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    start = time.perf_counter()
    torch.manual_seed(seed)
    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=16, reconstruction_loss="bce")
    model = VAE(config, *pythae_nets(16))
    training = BaseTrainerConfig(
        output_dir=str(workdir / f"pythae_{time.monotonic_ns()}"),
        num_epochs=epochs,
        learning_rate=1e-3,
        per_device_train_batch_size=64,
        per_device_eval_batch_size=64,
        optimizer_cls="Adam",
        no_cuda=True,
        seed=seed,
    )
    TrainingPipeline(model=model, training_config=training)(
        train_data=data["train"], eval_data=data["val"]
    )
    return time.perf_counter() - start, model


def pythae_nll(model, x: torch.Tensor, k: int) -> float:
    """Shared estimator on a trained pythae VAE (its decoder's logits, before the sigmoid)."""
    model.eval()

    def encode(xb):
        out = model.encoder(xb)
        return out.embedding, out.log_covariance

    return iw_nll(encode, model.decoder.net, x, k)


# ----- genlab -------------------------------------------------------------------------------
def run_genlab(extra: list[str], epochs: int, workdir: Path) -> tuple[float, object, float]:
    """``genlab.train.train`` on the job; return (seconds, trained module, fit seconds)."""
    from omegaconf import OmegaConf

    from genlab.train import train

    cfg = compose([*JOB, *extra, f"trainer.max_epochs={epochs}"], workdir)
    probe = {"_target_": f"{__name__}.FitProbe"}
    OmegaConf.update(cfg, "callbacks.fit_probe", probe, force_add=True)
    start = time.perf_counter()
    train(cfg)
    seconds = time.perf_counter() - start
    return seconds, FitProbe.last["module"], FitProbe.last["fit_seconds"]


def run_bare(epochs: int, workdir: Path) -> float:
    """genlab's module + datamodule in a Trainer with nothing else (no validation)."""
    from overhead import time_bare

    return time_bare(compose(JOB, workdir), epochs)


def genlab_nll(module, x: torch.Tensor, k: int) -> tuple[float, float]:
    """(shared estimator, genlab's own ``VAE.iw_nll``) on a trained genlab VAE, nats."""
    module.eval()
    module.cpu()
    shared = iw_nll(lambda xb: module.encoder(xb), lambda z: module.decoder(z).flatten(1), x, k)
    torch.manual_seed(0)
    own = module.iw_nll(x, k, module.hparams.test_iw_chunk).mean().item()
    return shared, own


# ----- hand-written loop --------------------------------------------------------------------
def run_hand(epochs: int, workdir: Path, evaluate: bool) -> float:
    """The hand loop of ``overhead_loops`` (train only), or a copy that also computes the val
    ELBO after every epoch (``evaluate``); seconds, setup (datamodule) included."""
    import hydra

    start = time.perf_counter()
    cfg = compose(JOB, workdir)
    datamodule = hydra.utils.instantiate(cfg.data)
    if not evaluate:
        vae_loop(cfg, datamodule, epochs)
        return time.perf_counter() - start
    datamodule.setup("fit")
    torch.manual_seed(cfg.seed)
    enc = hydra.utils.instantiate(cfg.model.encoder)
    dec = hydra.utils.instantiate(cfg.model.decoder)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    train_x = datamodule.dataset("train").images.float()
    val_x = datamodule.dataset("val").images.float()

    def neg_elbo(x):
        mu, logvar = enc(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        recon = -F.binary_cross_entropy_with_logits(dec(z), x, reduction="none")
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(-1)
        return -(recon.flatten(1).sum(1) - kl).mean()

    for _ in range(epochs):
        for x in batches(train_x, 64, drop_last=False):
            loss = neg_elbo(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            _ = sum(neg_elbo(x).item() * len(x) for x in val_x.split(64)) / len(val_x)
    return time.perf_counter() - start


# ----- the benchmark ------------------------------------------------------------------------
def measure(rounds: int, epochs: int, k: int, workdir: Path) -> dict:
    """Run every variant once per round in a rotating order; return times and NLLs."""
    data = job_tensors(workdir)
    names = ["pythae", *GENLAB, "genlab_bare", "hand", "hand_eval"]
    seconds: dict[str, list[float]] = {n: [] for n in names}
    fit_only: dict[str, list[float]] = {n: [] for n in GENLAB}
    nll: dict[str, list[float]] = {"pythae": [], "genlab_default": [], "genlab_default_own": []}
    for rnd in range(rounds):
        order = names[rnd % len(names) :] + names[: rnd % len(names)]
        for name in order:
            if name == "pythae":
                sec, model = run_pythae(data, epochs, workdir, seed=42)
                nll["pythae"].append(pythae_nll(model, data["test"], k))
            elif name in GENLAB:
                sec, module, fit = run_genlab(GENLAB[name], epochs, workdir)
                fit_only[name].append(fit)
                if name == "genlab_default":
                    shared, own = genlab_nll(module, data["test"], k)
                    nll["genlab_default"].append(shared)
                    nll["genlab_default_own"].append(own)
            elif name == "genlab_bare":
                sec = run_bare(epochs, workdir)
            else:
                sec = run_hand(epochs, workdir, evaluate=name == "hand_eval")
            seconds[name].append(sec)
            print(f"round {rnd + 1} {name:15s} {sec:7.2f} s", flush=True)
    med = {n: statistics.median(v) for n, v in seconds.items()}
    return {
        "seconds_median": med,
        "seconds_all": seconds,
        "fit_only_seconds_median": {n: statistics.median(v) for n, v in fit_only.items()},
        "ratio_to_pythae": {n: med[n] / med["pythae"] for n in names},
        "ratio_to_hand": {
            "genlab_bare / hand": med["genlab_bare"] / med["hand"],
            "genlab_default / hand_eval": med["genlab_default"] / med["hand_eval"],
            "genlab_csv / hand_eval": med["genlab_csv"] / med["hand_eval"],
            "pythae / hand_eval": med["pythae"] / med["hand_eval"],
        },
        "test_nll_median": {n: statistics.median(v) for n, v in nll.items()},
        "test_nll_all": nll,
        "sizes": {s: len(t) for s, t in data.items()},
    }


def main() -> None:
    """Run the benchmark; print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="2 epochs, 1 round, K = 10")
    parser.add_argument("--out", default=str(ROOT / "outputs/benchmarks/peer_pythae.json"))
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.epochs, args.iw_samples = 1, 2, 10
    torch.set_num_threads(args.threads)
    import pytorch_lightning  # noqa: F401  (sets PYTORCH_NVML_BASED_CUDA_CHECK=1)

    from genlab.utils.torch_env import drop_nvml_check_without_gpu

    drop_nvml_check_without_gpu()  # as genlab-train does
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "genlab", "pythae"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import pythae

    with tempfile.TemporaryDirectory(prefix="genlab_peer_") as tmp:
        report = {
            "environment": {**environment(), "pythae": getattr(pythae, "__version__", "0.1.2")},
            "smoke": args.smoke,
            "rounds": args.rounds,
            "epochs": args.epochs,
            "iw_samples": args.iw_samples,
            "job": JOB,
        }
        report.update(measure(args.rounds, args.epochs, args.iw_samples, Path(tmp)))
        report["environment"]["load_average_end"] = os.getloadavg()
    print(f"\n{'variant':16s} {'median s':>9s} {'x pythae':>9s}")
    for name, sec in report["seconds_median"].items():
        print(f"{name:16s} {sec:9.2f} {report['ratio_to_pythae'][name]:9.3f}")
    print(json.dumps(report["ratio_to_hand"], indent=1))
    print("test NLL (nats):", json.dumps(report["test_nll_median"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
