"""genlab-export: write samples of a trained checkpoint for external evaluation.

    genlab-export ckpt_path=outputs/train/runs/<time>/checkpoints/last.ckpt num=10000 format=npz

Images go out as a folder of PNGs (``<out>/000000.png``, ...: what torch-fidelity's and
clean-fid's folder modes read) and/or one ``.npz`` whose ``arr_0`` is uint8 (N, H, W, C)
(the layout of OpenAI's guided-diffusion evaluator) with ``labels`` (N,) int64 for
conditional models (-1 otherwise). 2D points (toy data) go out as ``.npz`` only, float32
(N, 2). The model is rebuilt from the training run's ``.hydra/resolved_config.yaml`` and
sampled only through the contract (``sample_noise``, ``sample_labels``, ``generate``), from a
CPU generator seeded with ``seed``: the same command writes the same samples.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from genlab.utils import run_dir
from genlab.utils.config_dir import CONFIG_DIR

log = logging.getLogger(__name__)
run_dir.register_resolver()  # ${genlab_unique_dir:...} in conf/hydra/default.yaml
FORMATS = ("png", "npz", "both")


def output_path(cfg: DictConfig) -> Path:
    """``cfg.out``, else ``<run>/export/samples_n<num>_seed<seed>`` beside the checkpoint."""
    if cfg.get("out"):
        return Path(to_absolute_path(cfg.out))
    run = Path(to_absolute_path(cfg.ckpt_path)).resolve().parent.parent
    return run / "export" / f"samples_n{cfg.num}_seed{cfg.seed}"


def draw_samples(model, num: int, seed: int, batch_size: int):
    """Return ``(samples, labels)``: ``num`` samples of ``model`` (eval mode, no gradients) as
    a CPU tensor (num, *data_shape) in ``data_range``, and their labels (num,) or None."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    model.eval()
    parts, label_parts = [], []
    with torch.no_grad():
        for start in range(0, num, batch_size):
            n = min(batch_size, num - start)
            z = model.sample_noise(n, generator=gen)
            labels = model.sample_labels(n, generator=gen)
            parts.append(model.generate(z, labels).float().cpu())
            if labels is not None:
                label_parts.append(labels.cpu())
    labels = torch.cat(label_parts) if label_parts else None
    return torch.cat(parts), labels


def to_uint8_hwc(images):
    """(N, C, H, W) floats in [0, 1] -> numpy uint8 (N, H, W, C), rounded (C = 1 kept)."""
    import torch

    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def write_samples(samples, labels, out: Path, fmt: str) -> list[Path]:
    """Write ``samples`` (N, C, H, W) images in [0, 1], or (N, 2) points, to ``out`` in
    ``fmt`` (png | npz | both); return the paths written (the folder and/or the .npz)."""
    import numpy as np
    from PIL import Image

    written = []
    label_array = (
        labels.numpy().astype(np.int64) if labels is not None else np.full(len(samples), -1)
    )
    if samples.dim() != 4:  # 2D points: no images to write
        path = out.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, arr_0=samples.numpy().astype(np.float32), labels=label_array)
        return [path]
    pixels = to_uint8_hwc(samples)
    if fmt in ("png", "both"):
        out.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(pixels):
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
                out / f"{i:06d}.png"
            )
        written.append(out)
    if fmt in ("npz", "both"):
        path = out.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, arr_0=pixels, labels=label_array)
        written.append(path)
    return written


def export(cfg: DictConfig) -> list[Path]:
    """Rebuild the checkpoint's model, draw ``cfg.num`` samples, write them; return paths."""
    from genlab.eval import find_run_config, load_checkpoint
    from genlab.run.validate import ConfigValueError, check_file_exists

    check_file_exists(cfg.ckpt_path, "ckpt_path", "<run>/checkpoints/last.ckpt")
    if cfg.format not in FORMATS:
        raise ConfigValueError(f"format={cfg.format!r}; allowed: {', '.join(FORMATS)}")
    for key in ("num", "batch_size"):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigValueError(f"{key}={value!r} must be an integer >= 1")
    from genlab.contract import require_generative
    from genlab.run.resume import check_state_dict_matches

    ckpt_path = Path(to_absolute_path(cfg.ckpt_path))
    ckpt = load_checkpoint(ckpt_path)
    run_cfg = find_run_config(ckpt_path, cfg.get("run_config"))
    model = require_generative(hydra.utils.instantiate(run_cfg.model), "genlab-export")
    check_state_dict_matches(ckpt, ckpt_path, model, run_cfg.model)
    model.load_state_dict(ckpt["state_dict"])
    samples, labels = draw_samples(model, cfg.num, cfg.seed, cfg.batch_size)
    written = write_samples(samples, labels, output_path(cfg), cfg.format)
    for path in written:
        log.info(f"wrote {cfg.num} samples: {path}")
    return written


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    """Console entry point ``genlab-export``."""
    export(cfg)


if __name__ == "__main__":
    main()
