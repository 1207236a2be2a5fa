"""Multi-node DDP with externally created processes (the cluster path: SLURM, torchrun).

genlab runs as 2 nodes x 1 process on localhost: two ``torchrun --nnodes=2`` invocations share
a c10d rendezvous, each starting ``python -m genlab.train trainer=ddp_cpu trainer.devices=1
trainer.num_nodes=2``. Lightning detects torchrun's environment (TorchElasticEnvironment:
processes are created externally), so genlab's launcher starts no child processes; the node
with global rank > 0 is a DDP child (``genlab.launch.ddp.is_ddp_child``). Both nodes are given
the same ``hydra.run.dir`` (as a cluster launcher gives every task the job's folder). Checks:
one output folder, one W&B run (rank 0's), identical weights on both ranks at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from helpers.runs import TINY_RUN, wandb_runs


class DumpWeights(pl.Callback):
    """Saves each rank's final parameters to ``<out_dir>/rank<k>.pt``."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)

    def on_train_end(self, trainer, pl_module):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        params = {k: p.detach().clone() for k, p in pl_module.named_parameters()}
        torch.save(
            {"world_size": trainer.world_size, "step": trainer.global_step, "params": params},
            self.out_dir / f"rank{trainer.global_rank}.pt",
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@pytest.mark.ddp
@pytest.mark.slow
def test_two_torchrun_nodes_write_one_folder_one_wandb_run_identical_weights(tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    run_dir, dump = tmp_path / "outputs" / "job", tmp_path / "ranks"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        HYDRA_FULL_ERROR="1",
        PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")]),
    )
    endpoint = f"localhost:{free_port()}"
    command = [
        torchrun,
        "--nnodes=2",
        "--nproc-per-node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={endpoint}",
        "--rdzv-id=genlab-torchrun-test",
        "-m",
        "genlab.train",
        *TINY_RUN,
        "trainer=ddp_cpu",
        "trainer.devices=1",
        "trainer.num_nodes=2",
        "logger=many",
        "+callbacks.dump._target_=test_torchrun.DumpWeights",
        f"+callbacks.dump.out_dir={dump}",
        f"hydra.run.dir={run_dir}",
    ]
    nodes = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = []
    for node in nodes:
        try:
            outputs.append(node.communicate(timeout=400)[0])
        finally:
            if node.poll() is None:
                node.kill()
    for node, out in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, out[-6000:]
    runs = [p for p in (tmp_path / "outputs").iterdir() if p.name != "cache"]
    assert runs == [run_dir]  # one output folder
    assert len(wandb_runs(run_dir)) == 1  # one W&B run, written by global rank 0
    assert (run_dir / "metrics.json").is_file()
    r0, r1 = (torch.load(dump / f"rank{r}.pt") for r in (0, 1))
    assert r0["world_size"] == r1["world_size"] == 2 and r0["step"] == r1["step"] > 0
    for key, value in r0["params"].items():  # DDP kept the two nodes' weights identical
        assert torch.equal(value, r1["params"][key]), key
