"""Wall time from launching genlab-train with a bad config to its error (target: < 1.5 s).

Each case runs ``python -m genlab.train <bad override>`` in a fresh process ``--repeats``
times and records the wall time until the process exits (non-zero), the median and max,
and whether the error names the key. Also times W&B's offline fallback: a process with a
(fake) API key and an unreachable ``WANDB_BASE_URL`` until it has logged offline (target:
< 15 s to the fallback). Writes ``outputs/benchmarks/config_error_latency.json``.

    python benchmarks/config_error_latency.py
    python benchmarks/config_error_latency.py --src /path/to/other/checkout/src --tag main
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {  # name: (overrides, text the error must contain)
    "unknown_group_option": (["model=nope"], "model"),
    "unknown_key": (["trainer.nope=1"], "nope"),
    "bad_value_int": (["trainer.max_epochs=abc"], "max_epochs"),
    "bad_value_lr": (["model.optimizer.lr=abc"], "lr"),
    "model_data_mismatch": (["model=dcgan", "data=ring2d"], "ring2d"),
}
FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"


def run(args: list[str], src: Path, cwd: Path, **env: str | None) -> tuple[float, int, str]:
    """Run ``python -m genlab.train <args>``; return (wall seconds, exit code, output)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    full.update(PYTHONPATH=str(src), WANDB_MODE="offline", WANDB_SILENT="true")
    full.update(env)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "genlab.train", *args],
        cwd=cwd,
        env={k: v for k, v in full.items() if v is not None},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    return time.perf_counter() - start, done.returncode, done.stdout


def wandb_fallback(src: Path, cwd: Path) -> dict:
    """Time a run that must fall back to offline W&B (no training): seconds from launch to the
    fallback message, and to the end of the process."""
    overrides = ["train=false", "test=false", "metrics=none", "logger=wandb", "trainer=cpu"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(PYTHONPATH=str(src), WANDB_API_KEY=FAKE_KEY, WANDB_BASE_URL="http://127.0.0.1:9")
    start, said = time.perf_counter(), None
    proc = subprocess.Popen(
        [sys.executable, "-m", "genlab.train", *overrides],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        if said is None and "logging offline instead" in line:
            said = time.perf_counter() - start
    code = proc.wait(timeout=600)
    return {
        "overrides": overrides,
        "wall_s_to_fallback_message": None if said is None else round(said, 2),
        "wall_s_total": round(time.perf_counter() - start, 2),
        "exit_code": code,
        "note": "from launch (incl. torch import and model build); target < 15 s",
    }


def main() -> None:
    """Measure every case and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="genlab's src folder")
    parser.add_argument("--tag", default="branch", help="label stored in the JSON")
    parser.add_argument("--skip-wandb", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (overrides, must_name) in CASES.items():
            times, named = [], True
            for _ in range(args.repeats):
                seconds, code, out = run(overrides, args.src, Path(tmp))
                assert code != 0, f"{name}: expected an error, got exit code 0"
                times.append(seconds)
                named &= must_name in out.split("Set the environment variable")[0][-2000:]
            results[name] = {
                "overrides": overrides,
                "wall_s_median": round(statistics.median(times), 3),
                "wall_s_max": round(max(times), 3),
                "error_names_key": named,
            }
            print(f"{name:24s} median {results[name]['wall_s_median']:.2f} s")
        wandb = None if args.skip_wandb else wandb_fallback(args.src, Path(tmp))
    record = {
        "tag": args.tag,
        "src": str(args.src),
        "repeats": args.repeats,
        "cases": results,
        "wandb_fallback": wandb,
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
            "python": platform.python_version(),
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "outputs" / "benchmarks" / f"config_error_latency_{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
