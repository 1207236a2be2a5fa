"""genlab-eval fake=/real=: a folder of PNGs against digits:train prints the protocol; the
same score from saved reference statistics; wrong size/channels and another protocol's
statistics are refused with clear errors; .npz samples (NHWC uint8) read like the folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from genlab.data.digits import DigitsDataModule
from genlab.eval_samples import evaluate_samples
from genlab.metrics.score_files import SampleFileError, load_folder, load_npz_images
from genlab.utils.config_dir import CONFIG_DIR
from helpers.config import run_cli


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake")
    images = (DigitsDataModule().real_images("val", 40, grey=True) * 255).round().byte().numpy()
    for i, image in enumerate(images):
        Image.fromarray(image[0]).save(folder / f"{i:03d}.png")
    return folder


def score(tmp_path, *overrides: str) -> dict:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("eval", [*overrides, f"output_file={tmp_path}/out.json", "ckpt_path=none"])
        return evaluate_samples(cfg)


def test_folder_vs_digits_then_vs_saved_stats(fake_dir, tmp_path, capsys):
    small = ["metrics.num_real=120", "metrics.metrics=[fid,prdc]"]
    full = score(tmp_path, f"fake={fake_dir}", "real=digits:train", *small,
                 f"save_stats={tmp_path}/ref.npz")  # fmt: skip
    printed = capsys.readouterr().out
    assert "metrics_protocol:" in printed and '"extractor": "digits_classifier"' in printed
    record = json.loads((tmp_path / "out.json").read_text())["metrics_protocol"]
    assert record["num_fake"] == 40 and record["num_real"] == 120
    assert record["reference_split"] == "train" and record["dataset"] == "digits"
    assert {"fid", "density", "coverage"} <= set(full)
    from_stats = score(tmp_path, f"fake={fake_dir}", f"real={tmp_path}/ref.npz")
    # the same real mean/covariance, stored in float64: equal up to float64 rounding
    assert from_stats["fid"] == pytest.approx(full["fid"], rel=1e-9)


def test_refusals(fake_dir, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for i in range(2):
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(wrong / f"{i}.png")
    with pytest.raises(SampleFileError, match=r"\(3, 32, 32\).*digits:train holds \(1, 28, 28\)"):
        score(tmp_path, f"fake={wrong}", "real=digits:train")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(wrong / "2.png")
    with pytest.raises(SampleFileError, match="2.png is 28x28 px, 1 channel"):
        load_folder(wrong)
    mu, sigma = np.zeros(128), np.eye(128)
    other = json.dumps({"extractor": "digits_classifier", "weights_hash": "0123456789ab",
                        "resize_mode": "torch_bilinear_antialias", "input_size": 28})  # fmt: skip
    np.savez(tmp_path / "other.npz", mu=mu, sigma=sigma, protocol=other)
    with pytest.raises(SampleFileError, match="weights_hash: file '0123456789ab' vs this"):
        score(tmp_path, f"fake={fake_dir}", f"real={tmp_path}/other.npz")
    np.savez(tmp_path / "pytorch_fid.npz", mu=np.zeros(2048), sigma=np.eye(2048))
    with pytest.raises(SampleFileError, match="2048-d statistics but extractor 'digits_cl"):
        score(tmp_path, f"fake={fake_dir}", f"real={tmp_path}/pytorch_fid.npz",
              "metrics.extractor=digits_classifier")  # fmt: skip


def test_npz_samples_read_like_the_folder(fake_dir, tmp_path):
    images = load_folder(fake_dir)
    np.savez(tmp_path / "s.npz", images.permute(0, 2, 3, 1).numpy())  # NHWC, ADM/EDM style
    assert (load_npz_images(tmp_path / "s.npz") == images).all()


@pytest.mark.slow  # ~15 s: the console entry point in a subprocess
def test_cli(fake_dir, tmp_path):
    result = run_cli([f"fake={fake_dir}", "real=digits:train", "metrics.num_real=100",
                      f"hydra.run.dir={tmp_path}/h"], tmp_path, module="genlab.eval")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "metrics_protocol:" in result.stdout and "fid" in result.stdout
