"""Benchmark (not a test): genlab's sample-quality metrics vs torch-fidelity's on the same images.

For each N, N real + N generated uint8 images go through genlab's ``SampleQualityMetrics``
(FID, IS, KID, PR) and through ``torch_fidelity.calculate_metrics`` with the same weights file.
Each measurement runs in a fresh process so its peak resident memory (``ru_maxrss``) belongs to
it alone; on CUDA the peak allocated GPU memory is reported too. Each point runs ``--repeats``
times and the fastest run counts (shared machines are noisy). genlab's metric-state memory (FID
sums, gathered features) is reported separately. Throughput is images (real + fake) per second,
end to end (extractor load, extraction, metric arithmetic).

Without ``--weights``, a randomly initialised InceptionV3 is written under the output folder:
the timings are those of the real network, the scores are meaningless.

Usage: python benchmarks/metrics_throughput.py --sizes 16,32,64 [--resolution 32 --channels 3]
Writes outputs/benchmarks/metrics_throughput.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def make_images(num: int, channels: int, size: int, seed: int) -> torch.Tensor:
    """Return uint8 (num, channels, size, size) images: smooth random blobs."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(num, channels, 4, 4, generator=generator)
    images = torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic")
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def run_genlab(args: dict, num: int) -> dict:
    """Time genlab on num + num images; return seconds and scores."""
    from genlab.metrics.collection import SampleQualityMetrics
    from genlab.metrics.extractors import InceptionExtractor

    real = make_images(num, args["channels"], args["resolution"], 0)
    fake = make_images(num, args["channels"], args["resolution"], 1)
    start = time.perf_counter()
    suite = SampleQualityMetrics(InceptionExtractor(args["weights"])).to(args["device"])
    for images, is_real in ((real, True), (fake, False)):
        for chunk in images.split(args["batch_size"]):
            suite.update(chunk, real=is_real)
    extracted = time.perf_counter()
    state_mb = state_bytes(suite) / 2**20
    scores = suite.compute()
    done = time.perf_counter()
    timings = {"seconds": done - start, "compute_seconds": done - extracted}
    return {**timings, "metric_state_mb": state_mb, "scores": scores}


def state_bytes(suite) -> int:
    """Return the bytes held by the metric states (FID sums, gathered features and logits)."""
    total = 0
    for metric in (suite.fid, suite.gathered):
        for name in metric._defaults if metric is not None else ():
            value = getattr(metric, name)
            for tensor in value if isinstance(value, list) else [value]:
                total += tensor.numel() * tensor.element_size()
    return total


def run_fidelity(args: dict, num: int) -> dict:
    """Time torch_fidelity.calculate_metrics on the same images; return seconds and scores."""
    import torch_fidelity
    from torch.utils.data import Dataset

    class Images(Dataset):
        def __init__(self, x: torch.Tensor) -> None:
            self.x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> torch.Tensor:
            return self.x[i]

    real = make_images(num, args["channels"], args["resolution"], 0)
    fake = make_images(num, args["channels"], args["resolution"], 1)
    start = time.perf_counter()
    out = torch_fidelity.calculate_metrics(
        input1=Images(fake), input2=Images(real), cuda=args["device"] == "cuda",
        batch_size=args["batch_size"], isc=True, fid=True, kid=True, prc=True,
        feature_extractor="inception-v3-compat", feature_extractor_weights_path=args["weights"],
        kid_subset_size=min(num, 1000), cache=False, save_cpu_ram=True, verbose=False,
    )  # fmt: skip
    scores = {"fid": out["frechet_inception_distance"], "is_mean": out["inception_score_mean"]}
    scores.update(kid_mean=out["kernel_inception_distance_mean"], precision=out["precision"])
    return {"seconds": time.perf_counter() - start, "scores": scores}


def _child(which: str, args: dict, num: int, queue: mp.Queue) -> None:
    try:
        torch.set_num_threads(args["threads"])
        if args["device"] == "cuda":
            torch.cuda.reset_peak_memory_stats()
        result = (run_genlab if which == "genlab" else run_fidelity)(args, num)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args["device"] == "cuda":
            result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    except Exception:  # report instead of leaving the parent waiting on the queue
        result = {"error": traceback.format_exc()}
    queue.put(result)


def measure_once(which: str, args: dict, num: int) -> dict:
    """Run one measurement in a fresh spawned process; return its result dict."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(which, args, num, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{which} N={num} failed in its process:\n{result['error']}")
    return result


def measure(which: str, args: dict, num: int) -> dict:
    """Return the fastest of ``args["repeats"]`` runs (all wall times kept in ``all_seconds``)."""
    runs = [measure_once(which, args, num) for _ in range(args["repeats"])]
    result = min(runs, key=lambda r: r["seconds"])
    result.update(library=which, n_real=num, n_fake=num, all_seconds=[r["seconds"] for r in runs])
    result["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    result["images_per_second"] = 2 * num / result["seconds"]
    return result


def main() -> None:
    """Parse arguments, run every (library, N) pair, print a table and write the JSON."""
    parser = argparse.ArgumentParser(description="genlab vs torch-fidelity metric throughput")
    parser.add_argument("--sizes", default="16,32,64", help="comma-separated N (real = fake = N)")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--weights", default=None, help="InceptionV3 weights file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=2, help="runs per point; the fastest counts")
    parser.add_argument("--out", default=str(ROOT / "outputs/benchmarks/metrics_throughput.json"))
    ns = parser.parse_args()
    if min(int(s) for s in ns.sizes.split(",")) < 10:
        parser.error("--sizes: every N must be >= 10 (the Inception Score uses 10 splits)")
    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = ns.weights
    if weights is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from helpers.inception import save_random_inception_weights

        weights = str(save_random_inception_weights(out.parent / "random_inception.pth"))
    args = dict(vars(ns), weights=weights)
    results = []
    for num in (int(s) for s in ns.sizes.split(",")):
        for which in ("torch_fidelity", "genlab"):
            result = measure(which, args, num)
            results.append(result)
            secs, rate, rss = result["seconds"], result["images_per_second"], result["peak_rss_mb"]
            print(f"{which:>15} N={num:>6}: {secs:8.2f} s {rate:7.2f} img/s {rss:.0f} MB peak RSS")
    from genlab.metrics.protocol import library_versions

    report = {
        "settings": {k: v for k, v in args.items() if k != "out"},
        "machine": {"platform": platform.platform(), "cpus": mp.cpu_count(), "device": ns.device},
        "versions": library_versions(),
        "results": results,
    }
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
