"""Benchmark (not a test): PNG write time and size of a sample grid at zlib level 6 (PIL's
default, what torchvision's ``save_image`` uses) vs 1 (``genlab.callbacks.images``).

Grids as the image callbacks write them: 64 images of 28 px in an 8 x 8 ``make_grid`` (242 x
242 x 3 uint8), once of scikit-learn digits (what genlab's default run draws) and once of
uniform noise (an untrained model's worst case). Median of ``--repeats`` encodes into memory.

Usage: python benchmarks/png_level.py [--repeats 50]
Writes outputs/benchmarks/png_level.json.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torchvision.utils import make_grid

ROOT = Path(__file__).resolve().parents[1]


def grid_array(images: torch.Tensor) -> np.ndarray:
    """(64, 1, 28, 28) in [0, 1] -> the 8 x 8 grid as uint8 (H, W, 3), save_image's rounding."""
    grid = make_grid(images, nrow=8, padding=2)
    return grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()


def encode_ms(array: np.ndarray, level: int, repeats: int) -> tuple[float, int]:
    """Median milliseconds of one PNG encode at ``level``, and the file size in bytes."""
    times, size = [], 0
    for _ in range(repeats):
        buf = io.BytesIO()
        start = time.perf_counter()
        Image.fromarray(array).save(buf, format="PNG", compress_level=level)
        times.append((time.perf_counter() - start) * 1000)
        size = len(buf.getvalue())
    return statistics.median(times), size


def main() -> None:
    """Measure both grids at both levels; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", default=str(ROOT / "outputs/benchmarks/png_level.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    digits = torch.tensor(load_digits().images[:64] / 16.0, dtype=torch.float32)[:, None]
    digits = torch.nn.functional.interpolate(digits, size=28, mode="bilinear").clamp(0, 1)
    noise = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    report = {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "grids": {}}
    for name, images in (("digits", digits), ("noise", noise)):
        array = grid_array(images)
        levels = {lvl: encode_ms(array, lvl, args.repeats) for lvl in (6, 1)}
        report["grids"][name] = {
            "shape": list(array.shape),
            **{f"level{lvl}": {"ms": round(ms, 3), "bytes": b} for lvl, (ms, b) in levels.items()},
            "speedup": round(levels[6][0] / levels[1][0], 2),
            "size_ratio_1_over_6": round(levels[1][1] / levels[6][1], 3),
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
