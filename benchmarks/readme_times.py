"""Re-measure every time the README states: wall and CPU seconds of each documented command.

Each case runs one README command (``python -m genlab.<tool> <args>``) in a fresh process in
an empty folder, ``--repeats`` times, and records wall seconds, CPU seconds (user + system of
the child) and the 1-minute load average before and after (the machine may be shared: a load
above the core count inflates wall time, not CPU time). Writes
``outputs/benchmarks/readme_times.json``; the README quotes its numbers with the date.

    python benchmarks/readme_times.py                      # every case, once
    python benchmarks/readme_times.py --cases debug_fast sngan_refusal --repeats 3
    python benchmarks/readme_times.py --cases import_lightning   # the import floor

Cases not measured in a call keep their earlier entry (with its own ``date_utc``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {  # name: (module, args, what the README says)
    "train_default": ("genlab.train", [], "genlab-train (the main job: VAE on digits)"),
    "debug_fast": ("genlab.train", ["debug=fast"], "genlab-train debug=fast"),
    "debug_overfit": ("genlab.train", ["debug=overfit"], "genlab-train debug=overfit"),
    "sngan_refusal": (
        "genlab.train",
        ["model=sngan", "data.image_size=28"],
        "genlab-train model=sngan data.image_size=28 (refused before Lightning loads)",
    ),
    "config_error": ("genlab.train", ["model=nope"], "a config typo (genlab-train model=nope)"),
    "import_lightning": (  # the floor under every genlab-train start (debug=fast's imports)
        None,
        ["import pytorch_lightning"],
        'python -c "import pytorch_lightning" (imports torch, torchmetrics, torchvision, scipy)',
    ),
}


def run_case(module: str | None, args: list[str], src: Path) -> dict:
    """Run ``python -m <module> <args>`` (``python -c <args>`` when module is None) in a fresh
    temp folder; return its times and exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(PYTHONPATH=str(src), WANDB_MODE="offline", WANDB_SILENT="true")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, *(["-c"] if module is None else ["-m", module]), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "exit_code": proc.returncode,
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "tail": (proc.stdout + proc.stderr)[-400:] if proc.returncode else "",
    }


def main() -> None:
    """Measure the chosen cases and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs/benchmarks/readme_times.json")
    opts = parser.parse_args()
    results = {}
    for name in opts.cases:
        module, args, claim = CASES[name]
        runs = [run_case(module, args, opts.src) for _ in range(opts.repeats)]
        walls = [r["wall_s"] for r in runs]
        results[name] = {
            "command": claim,
            "median_wall_s": statistics.median(walls),
            "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "runs": runs,
        }
        print(f"{name}: wall {walls} s, cpu {[r['cpu_s'] for r in runs]} s", flush=True)
    date = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    for value in results.values():
        value["date_utc"] = date
    if opts.out.is_file():  # keep the cases not re-measured this time (each has its date)
        results = {**json.loads(opts.out.read_text()).get("cases", {}), **results}
    record = {
        "date_utc": date,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "note": "shared machine: wall time includes waiting for other jobs; cpu_s does not",
        "cases": results,
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(record, indent=2))
    print(f"wrote {opts.out}")


if __name__ == "__main__":
    main()
