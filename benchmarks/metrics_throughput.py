"""Benchmark (not a test): FID by genlab, torch-fidelity, clean-fid and torchmetrics on the SAME
images and the SAME InceptionV3 weights, with the time ratios in one run.

Every library gets N real + N generated uint8 images (smooth random blobs, 32x32 colour by
default) and one InceptionV3 weights file (without ``--weights``: a randomly initialised
torch-fidelity InceptionV3 written under the output folder: real network, meaningless scores):

* ``genlab``: ``SampleQualityMetrics(InceptionExtractor(weights), ["fid"])``, TF1 resize
  (``legacy_tf``, the default); ``genlab_clean``: the same with ``metrics.resize=clean``.
* ``torch_fidelity``: ``calculate_metrics(fid=True, feature_extractor_weights_path=weights)``.
* ``torchmetrics``: ``FrechetInceptionDistance(feature_extractor_weights_path=weights,
  antialias=False)``: its TF1 resize, so its inputs equal genlab's (the default
  ``antialias=True`` resizes differently and changes FID at 32 px).
* ``clean_fid``: ``cleanfid.fid.compute_fid(real_dir, fake_dir, mode="clean",
  custom_feat_extractor=...)`` on PNG files of the same images (written before the clock starts;
  its PNG reading is timed, as its API reads files). clean-fid's own InceptionV3 is a TorchScript
  file that only its download provides (``torch.jit.load``), so it cannot take the weights file:
  its ``custom_feat_extractor`` runs torch-fidelity's InceptionV3 layers with the same weights
  on clean-fid's float 299x299 resize (``genlab.metrics.inception_float``). Its FID should then
  equal ``genlab_clean``'s; the others' should equal ``genlab``'s.
* ``fd_only``: the feature-free part, each library's Fréchet distance on the same (N, 2048)
  float64 statistics (genlab = torch-fidelity's eigenvalue trace; clean-fid: scipy ``sqrtm``;
  torchmetrics: its eigenvalue formula), timed in this process.

Each (library, N) runs ``--repeats`` times in a fresh spawned process (its own peak RSS); the
fastest counts. Ratios: seconds / genlab's seconds at the same N. ``--threads`` sets torch's
threads (1 on the shared CPU). The load average before and after goes into the JSON.

Usage: nice -n 10 python benchmarks/metrics_throughput.py --sizes 64,128 --threads 1
Writes outputs/benchmarks/metrics_throughput.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("genlab", "torch_fidelity", "torchmetrics", "clean_fid", "genlab_clean")


def make_images(num: int, channels: int, size: int, seed: int) -> torch.Tensor:
    """Return uint8 (num, channels, size, size) images: smooth random blobs."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(num, channels, 4, 4, generator=generator)
    images = torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic")
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def image_pair(args: dict, num: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(real, fake) uint8 images, the same for every library."""
    shape = (args["channels"], args["resolution"])
    return make_images(num, *shape, 0), make_images(num, *shape, 1)


def run_genlab(args: dict, num: int, resize: str = "legacy_tf") -> dict:
    """genlab's FID (one extractor pass, float64 sums); seconds and the score."""
    from genlab.metrics.collection import SampleQualityMetrics
    from genlab.metrics.extractors import InceptionExtractor

    real, fake = image_pair(args, num)
    start = time.perf_counter()
    extractor = InceptionExtractor(args["weights"], resize=resize)
    suite = SampleQualityMetrics(extractor, ["fid"]).to(args["device"])
    for images, is_real in ((real, True), (fake, False)):
        for chunk in images.split(args["batch_size"]):
            suite.update(chunk.to(args["device"]), real=is_real)
    fid = suite.compute()["fid"]
    return {"seconds": time.perf_counter() - start, "fid": fid}


class _Images(torch.utils.data.Dataset):
    """uint8 (3, H, W) items (grey repeated), as torch-fidelity takes them."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def run_fidelity(args: dict, num: int) -> dict:
    """torch_fidelity.calculate_metrics(fid=True) with the weights file (``save_cpu_ram``: no
    DataLoader workers, as the other libraries run here)."""
    import torch_fidelity

    real, fake = image_pair(args, num)
    start = time.perf_counter()
    out = torch_fidelity.calculate_metrics(
        input1=_Images(fake), input2=_Images(real), cuda=args["device"] == "cuda",
        batch_size=args["batch_size"], fid=True, feature_extractor="inception-v3-compat",
        feature_extractor_weights_path=args["weights"], cache=False, save_cpu_ram=True,
        verbose=False,
    )  # fmt: skip
    return {"seconds": time.perf_counter() - start, "fid": out["frechet_inception_distance"]}


def run_torchmetrics(args: dict, num: int) -> dict:
    """torchmetrics' FrechetInceptionDistance with the weights file and its TF1 resize."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = image_pair(args, num)
    start = time.perf_counter()
    metric = FrechetInceptionDistance(
        feature=2048, feature_extractor_weights_path=args["weights"], antialias=False
    ).to(args["device"])
    for images, is_real in ((real, True), (fake, False)):
        for chunk in _Images(images).x.split(args["batch_size"]):
            metric.update(chunk.to(args["device"]), real=is_real)
    fid = float(metric.compute())
    return {"seconds": time.perf_counter() - start, "fid": fid}


def write_pngs(images: torch.Tensor, folder: Path) -> Path:
    """Write uint8 (N, C, H, W) images as PNG files; return the folder."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / f"{i}.png")
    return folder


def run_cleanfid(args: dict, num: int) -> dict:
    """clean-fid's compute_fid on PNG folders, mode=clean, torch-fidelity's Inception layers
    (same weights) as its ``custom_feat_extractor``."""
    from cleanfid import fid as cleanfid
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from genlab.metrics.inception_float import inception_float_forward

    real, fake = image_pair(args, num)
    with tempfile.TemporaryDirectory() as tmp:
        real_dir = write_pngs(real, Path(tmp) / "real")
        fake_dir = write_pngs(fake, Path(tmp) / "fake")
        start = time.perf_counter()
        net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=args["weights"]
        ).to(args["device"])

        def features(x: torch.Tensor) -> torch.Tensor:
            return inception_float_forward(net, x)[0]

        fid = cleanfid.compute_fid(
            str(fake_dir), str(real_dir), mode="clean", custom_feat_extractor=features,
            num_workers=0, batch_size=args["batch_size"], device=torch.device(args["device"]),
            verbose=False, use_dataparallel=False,
        )  # fmt: skip
        return {"seconds": time.perf_counter() - start, "fid": float(fid)}


RUNNERS = {
    "genlab": run_genlab,
    "genlab_clean": lambda args, num: run_genlab(args, num, resize="clean"),
    "torch_fidelity": run_fidelity,
    "torchmetrics": run_torchmetrics,
    "clean_fid": run_cleanfid,
}


def _child(which: str, args: dict, num: int, queue: mp.Queue) -> None:
    try:
        torch.set_num_threads(args["threads"])
        result = RUNNERS[which](args, num)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except Exception:  # report instead of leaving the parent waiting on the queue
        result = {"error": traceback.format_exc()}
    queue.put(result)


def measure(which: str, args: dict, num: int) -> dict:
    """The fastest of ``args["repeats"]`` runs, each in a fresh spawned process."""
    ctx = mp.get_context("spawn")
    runs = []
    for _ in range(args["repeats"]):
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(which, args, num, queue))
        proc.start()
        result = queue.get()
        proc.join()
        if "error" in result:
            raise RuntimeError(f"{which} N={num} failed in its process:\n{result['error']}")
        runs.append(result)
    best = min(runs, key=lambda r: r["seconds"])
    best.update(library=which, n_real=num, n_fake=num, all_seconds=[r["seconds"] for r in runs])
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["images_per_second"] = 2 * num / best["seconds"]
    return best


def fd_only(num: int, dim: int = 2048, repeats: int = 3) -> dict:
    """Each library's Fréchet distance on the same float64 statistics: seconds (fastest of
    ``repeats``) and value."""
    from cleanfid.fid import frechet_distance as cleanfid_fd
    from torchmetrics.image.fid import _compute_fid

    from genlab.metrics.functional import frechet_distance

    rng = np.random.default_rng(0)
    f1 = rng.standard_normal((num, dim))
    f2 = rng.standard_normal((num, dim)) * 1.1 + 0.1
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    t = [torch.from_numpy(a) for a in (mu1, s1, mu2, s2)]
    fns = {
        "genlab": lambda: frechet_distance(*t),
        "clean_fid": lambda: cleanfid_fd(mu1, s1, mu2, s2),
        "torchmetrics": lambda: float(_compute_fid(t[0], t[1], t[2], t[3])),
    }
    out = {}
    for name, fn in fns.items():
        times, value = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            value = float(fn())
            times.append(time.perf_counter() - start)
        out[name] = {"seconds": min(times), "fd": value}
    base = out["genlab"]
    for res in out.values():
        res["ratio_to_genlab"] = res["seconds"] / base["seconds"]
        res["rel_diff_to_genlab"] = abs(res["fd"] - base["fd"]) / abs(base["fd"])
    return {"features": f"N={num} x {dim} float64 Gaussian features, seeded", **out}


def add_ratios(results: list[dict]) -> None:
    """Per N: seconds / genlab's, and |FID - reference FID| / reference FID (reference:
    genlab_clean for clean_fid, genlab for the others)."""
    by = {(r["library"], r["n_real"]): r for r in results}
    for r in results:
        base = by.get(("genlab", r["n_real"]))
        ref_name = "genlab_clean" if r["library"] == "clean_fid" else "genlab"
        ref = by.get((ref_name, r["n_real"]))
        if base:
            r["time_ratio_to_genlab"] = r["seconds"] / base["seconds"]
        if ref:
            r["fid_reference"] = ref_name
            r["fid_rel_diff"] = abs(r["fid"] - ref["fid"]) / abs(ref["fid"])


def main() -> None:
    """Parse arguments, run every (library, N), print a table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="64,128", help="comma-separated N (real = fake = N)")
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--weights", default=None, help="InceptionV3 weights file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=2, help="runs per point; the fastest counts")
    parser.add_argument("--fd-samples", type=int, default=2000, help="fd_only N (0: skip)")
    parser.add_argument("--out", default=str(ROOT / "outputs/benchmarks/metrics_throughput.json"))
    ns = parser.parse_args()
    libraries = [name for name in ns.libraries.split(",") if name]
    unknown = set(libraries) - set(RUNNERS)
    if unknown or "genlab" not in libraries:
        parser.error(f"--libraries: choose from {list(RUNNERS)}, including genlab")
    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = ns.weights
    if weights is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers.inception import save_random_inception_weights

        weights = str(save_random_inception_weights(out.parent / "random_inception.pth"))
    args = dict(vars(ns), weights=weights)
    load_before = os.getloadavg()
    torch.set_num_threads(ns.threads)
    results: list[dict] = []

    def write(fd: dict | None = None) -> None:  # after every point: a partial run keeps its data
        from genlab.metrics.protocol import library_versions

        add_ratios(results)
        report = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": " ".join(sys.argv),
            "settings": {k: v for k, v in args.items() if k != "out"},
            "machine": {
                "platform": platform.platform(),
                "cpus": mp.cpu_count(),
                "device": ns.device,
                "torch_threads": ns.threads,
                "load_average_before": load_before,
                "load_average_now": os.getloadavg(),
            },
            "versions": {**library_versions(), "clean_fid": _version("clean-fid")},
            "notes": "clean_fid: custom_feat_extractor = torch-fidelity's InceptionV3 layers with"
            " the same weights (its own TorchScript Inception cannot load a local state dict);"
            " its FID is compared with genlab_clean's. torchmetrics: antialias=False (TF1"
            " resize). N < 2048 leaves the covariances singular: scipy's sqrtm (clean-fid) and"
            " the eigenvalue traces (genlab/torch-fidelity, torchmetrics) then differ.",
            "complete": fd is not None,
            "results": results,
            "fd_only": fd,
        }
        out.write_text(json.dumps(report, indent=2))

    for num in (int(s) for s in ns.sizes.split(",")):
        for which in libraries:
            result = measure(which, args, num)
            results.append(result)
            print(f"{which:>15} N={num:>5}: {result['seconds']:7.2f} s, FID {result['fid']:.6g}, "
                  f"{result['peak_rss_mb']:.0f} MB peak RSS", flush=True)  # fmt: skip
            write()
    fd = fd_only(ns.fd_samples) if ns.fd_samples > 0 else {"skipped": "--fd-samples 0"}
    write(fd)
    for r in results:
        print(f"{r['library']:>15} N={r['n_real']:>5}: x{r.get('time_ratio_to_genlab', 1):.2f} "
              f"time of genlab, FID rel. diff {r.get('fid_rel_diff', 0):.1e} "
              f"vs {r.get('fid_reference')}")  # fmt: skip
    for name in ("genlab", "clean_fid", "torchmetrics") if ns.fd_samples > 0 else ():
        print(f"fd_only {name:>13}: {fd[name]['seconds'] * 1e3:8.1f} ms, rel. diff "
              f"{fd[name]['rel_diff_to_genlab']:.1e}")  # fmt: skip
    print(f"wrote {out}")


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    main()
