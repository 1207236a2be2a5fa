"""data=dsprites: the factor grid, the rendered sprites, and the official-npz path (a tiny fake
file in the official key layout)."""

from __future__ import annotations

import math

import hydra
import numpy as np
import pytest
import torch

from genlab.data import dsprites_grid as grid
from genlab.data.dsprites import OFFICIAL_FILE, DSpritesDataModule
from genlab.data.errors import DatasetNotFoundError
from helpers.config import compose_config


def test_grid_size_order_and_factor_ranges():
    assert grid.NUM_IMAGES == 3 * 6 * 40 * 32 * 32 == 737_280
    classes = grid.grid_classes(np.array([0, 1, 32, grid.NUM_IMAGES - 1]))
    assert classes[0].tolist() == [0, 0, 0, 0, 0]
    assert classes[1].tolist() == [0, 0, 0, 0, 1]  # position y varies fastest (official order)
    assert classes[2].tolist() == [0, 0, 0, 1, 0]
    assert classes[3].tolist() == [2, 5, 39, 31, 31]
    values = grid.factor_values(grid.grid_classes(np.arange(0, grid.NUM_IMAGES, 7)))
    lows, highs = values.min(0), values.max(0)
    assert lows.tolist() == [0, 0.5, 0, 0, 0]
    assert np.allclose(highs, [2, 1.0, 2 * math.pi, 1.0, 1.0], atol=1e-12)  # float rounding


def _centroid(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(image)
    return float(cols.mean() + 0.5), float(rows.mean() + 0.5)  # pixel centres


@pytest.mark.parametrize(
    ("classes", "tol"),
    [
        ((0, 5, 0, 31, 0), 1e-9),  # square, right edge, top: symmetric, so exactly at its centre
        ((1, 2, 10, 0, 31), 1e-9),  # ellipse rotated by 10 steps: point-symmetric, exact
        ((2, 5, 0, 16, 5), 1.5),  # heart: centroid within 1.5 px of the box centre (lobes)
    ],
)
def test_rendered_mass_sits_where_the_position_factors_say(classes, tol):
    image = grid.render(np.array([classes]))[0]
    cx, cy = grid.centre_pixels(grid.factor_values(np.array([classes])))
    mx, my = _centroid(image)
    assert abs(mx - cx[0]) <= tol and abs(my - cy[0]) <= tol
    # pos_x = 31 puts it in the right half, pos_y = 0 in the top half (rows grow downwards)
    if classes[3] == 31:
        assert image[:, :32].sum() == 0 and image[:32].sum() > 0
    assert set(np.unique(image)) == {0, 255}  # binary


def test_template_shifts_equal_pixelwise_rendering_and_scale_grows_the_area():
    rng = np.random.default_rng(0)
    classes = grid.grid_classes(rng.choice(grid.NUM_IMAGES, 64, replace=False))
    assert np.array_equal(grid.render(classes), grid.render_templates(classes))
    areas = [grid.render(np.array([[0, s, 0, 16, 16]]))[0].astype(bool).sum() for s in range(6)]
    assert areas == sorted(areas) and areas[-1] > 3 * areas[0]  # (1 / 0.5)^2 = 4x, pixelated


def test_datamodule_splits_labels_and_cache(tmp_path, monkeypatch):
    dm = DSpritesDataModule(root=str(tmp_path), subset=600, val_size=100, test_size=100, seed=3)
    assert dm.source == "generated"
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (64, 1, 64, 64) and y.shape == (64,) and y.dtype == torch.int64
    assert set(torch.unique(x).tolist()) == {0.0, 1.0}
    factors = dm.factors_of(y)
    # the images follow their factors: mass centre column increases with pos_x
    cols = (x[:, 0].sum(1) * torch.arange(64)).sum(1) / x[:, 0].sum((1, 2))
    corr = np.corrcoef(cols.numpy(), factors[:, 3].numpy())[0, 1]
    assert corr > 0.95  # position dominates the centroid; shape lobes shift it by < 2 px
    assert {len(dm.dataset(s)) for s in ("val", "test")} == {100} and dm.num_train == 400
    val = dm.real_factors("val", 50)
    assert val.shape == (50, 5) and torch.equal(val, dm.factors_of(dm.real_labels("val", 50)))
    assert (val.max(0).values < torch.tensor(grid.FACTOR_SIZES)).all()
    # a second module reads the cached arrays instead of rendering again
    monkeypatch.setattr(grid, "render", lambda classes: pytest.fail("rendered again"))
    again = DSpritesDataModule(root=str(tmp_path), subset=600, val_size=100, test_size=100, seed=3)
    assert torch.equal(again.real_images("val", 20), dm.real_images("val", 20))


def test_downsampled_images_have_grey_edges():
    dm = DSpritesDataModule(root="unused", subset=50, image_size=32, val_size=5, test_size=5)
    dm.cache = False
    images = dm.real_images("train")
    assert images.shape[1:] == (1, 32, 32)
    assert images[(images > 0) & (images < 1)].numel() > 0.0  # area-averaged edges


def _write_fake_official(path, rows: np.ndarray) -> np.ndarray:
    """A tiny npz in the official key layout (imgs 0/1 uint8, latents_classes (M, 6) with the
    colour column, latents_values, a pickled metadata dict); returns its images."""
    classes = grid.grid_classes(rows)
    imgs = (grid.render(classes) // 255).astype(np.uint8)
    imgs[:, 0, 0] = 1  # a marker the renderer never draws: proves the file's pixels are used
    latents = np.concatenate([np.zeros((len(rows), 1), np.int64), classes], axis=1)
    values = np.concatenate([np.ones((len(rows), 1)), grid.factor_values(classes)], axis=1)
    metadata = np.array({"description": "fake"}, dtype=object)  # needs pickle, never loaded
    np.savez(path, imgs=imgs, latents_classes=latents, latents_values=values, metadata=metadata)
    return imgs


def test_official_npz_is_read_without_pickle(tmp_path):
    folder = tmp_path / "dsprites"
    folder.mkdir()
    rows = np.arange(0, grid.NUM_IMAGES, 9001)[:80]
    imgs = _write_fake_official(folder / OFFICIAL_FILE, rows)
    dm = DSpritesDataModule(root=str(tmp_path), subset=None, val_size=10, test_size=10)
    assert dm.source == "official"
    assert dm.num_train + dm.num_val + dm.num_test == 80
    images = torch.cat([dm.real_images(s) for s in ("train", "val", "test")])
    factors = torch.cat([dm.real_factors(s) for s in ("train", "val", "test")])
    flat = np.ravel_multi_index(tuple(factors.numpy().T), grid.FACTOR_SIZES)
    order = np.searchsorted(rows, flat)
    assert np.array_equal(rows[order], flat)  # factors are the file's latents_classes
    assert torch.equal(images[:, 0], torch.from_numpy(imgs[order]).float())  # 0/1 -> [0, 1]
    with pytest.raises(ValueError, match="data.subset=81 but .* holds 80 images"):
        DSpritesDataModule(root=str(tmp_path), subset=81, val_size=10, test_size=10).setup()


def test_official_source_without_the_file_names_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="data.source=official but .*npz"):
        DSpritesDataModule(root=str(tmp_path), source="official")


def test_config_instantiates_and_bad_values_are_refused(tmp_path):
    overrides = ["data=dsprites", "data.subset=300", "data.image_size=32", "data.val_size=50"]
    dm = hydra.utils.instantiate(compose_config([*overrides, "data.test_size=50"], tmp_path).data)
    assert dm.data_shape == (1, 32, 32) and dm.num_classes == 0 and dm.num_val == 50
    for kwargs, message in [
        ({"image_size": 28}, "data.image_size=28"),
        ({"subset": 2.5}, "subset=2.5 is invalid"),
        ({"source": "web"}, "data.source='web'"),
        ({"subset": 100}, "data.val_size=1000 is invalid"),
    ]:
        with pytest.raises(ValueError, match=message):
            DSpritesDataModule(root=str(tmp_path), **kwargs)
