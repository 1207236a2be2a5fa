"""The dSprites factor grid (Matthey et al. 2017, github.com/deepmind/dsprites-dataset) and a
numpy renderer of its images, used when the official ``.npz`` is absent.

The grid: 3 shapes (square, ellipse, heart) x 6 scales (linearly spaced in [0.5, 1]) x 40
orientations (linearly spaced in [0, 2 pi]) x 32 x 32 positions (linearly spaced in [0, 1]) =
737,280 binary 64x64 images, in the official order (position y varies fastest, then x,
orientation, scale, shape): flat index ``i`` has factor classes ``np.unravel_index(i,
FACTOR_SIZES)``. The official file's constant colour factor is dropped.

How the rendered images differ from the official ones (which were drawn with a vector library
whose exact sizes and position margins are not published): each pixel is white when its centre
lies inside the shape (no anti-aliasing, no supersampling); the shape is centred at pixel
coordinates ``MARGIN + pos * 31`` (x along columns, y along rows, downwards), so the 32
positions are exact one-pixel steps over the central 31 pixels (the official sprites travel
further, with sub-pixel steps), and every image is a whole-pixel shift of one of 720 rendered
(shape, scale, orientation) templates;
a square of scale 1 is ``SQUARE_HALF * 2`` pixels wide, the ellipse has semi-axes
(``ELLIPSE_AXES`` x scale) and the heart is the implicit curve (x^2 + y^2 - 1)^3 <= x^2 y^3
scaled to ``HEART_RADIUS`` x scale. So shapes, sizes and the one-pixel boundaries differ from
the official sprites; the factor structure (values, order, symmetries of square and ellipse
under rotation) is the same, and MIG/DCI numbers on the two are not interchangeable.
"""

from __future__ import annotations

import numpy as np

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
NUM_IMAGES = int(np.prod(FACTOR_SIZES))  #: 737,280
NATIVE_SIZE = 64  #: pixels of the official images
SHAPES = ("square", "ellipse", "heart")

# geometry of the rendered sprites, in pixels of the 64x64 image at scale 1
MARGIN = 16.5  #: centre of position 0 (position 1: 47.5); keeps every sprite inside
STEP = 1  #: pixels between neighbouring positions (31 steps: MARGIN + 31 + MARGIN = 64)
SQUARE_HALF = 6.5  #: half side of the square
ELLIPSE_AXES = (9.0, 4.5)  #: semi-axes (along the orientation, across it)
HEART_RADIUS = 7.5  #: the unit heart curve (|x| <= 1.14, -1 <= y <= 1.2) scaled by this
RENDER_VERSION = 1  #: part of the cache key; bump when the geometry above changes


def factor_values(classes: np.ndarray) -> np.ndarray:
    """Return the factor values (N, 5) float64 of factor classes (N, 5) int: shape index 0..2,
    scale in [0.5, 1], orientation in radians [0, 2 pi], positions in [0, 1]."""
    classes = np.asarray(classes)
    values = np.empty(classes.shape, dtype=np.float64)
    values[:, 0] = classes[:, 0]
    values[:, 1] = np.linspace(0.5, 1.0, FACTOR_SIZES[1])[classes[:, 1]]
    values[:, 2] = np.linspace(0.0, 2 * np.pi, FACTOR_SIZES[2])[classes[:, 2]]
    values[:, 3] = np.linspace(0.0, 1.0, FACTOR_SIZES[3])[classes[:, 3]]
    values[:, 4] = np.linspace(0.0, 1.0, FACTOR_SIZES[4])[classes[:, 4]]
    return values


def grid_classes(indices: np.ndarray) -> np.ndarray:
    """Return the factor classes (N, 5) int64 of flat grid indices (N,) in the official order."""
    return np.stack(np.unravel_index(np.asarray(indices), FACTOR_SIZES), axis=1).astype(np.int64)


def centre_pixels(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the sprite centres (column, row) in 64-pixel coordinates for factor values."""
    span = STEP * (FACTOR_SIZES[3] - 1)
    return MARGIN + values[:, 3] * span, MARGIN + values[:, 4] * span


def _inside(shape: np.ndarray, u: np.ndarray, v: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Membership of sprite-frame points (u right, v up; pixels) for each image's shape."""
    s = scale[:, None, None]
    square = (np.abs(u) <= SQUARE_HALF * s) & (np.abs(v) <= SQUARE_HALF * s)
    a, b = ELLIPSE_AXES[0] * s, ELLIPSE_AXES[1] * s
    ellipse = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    x, y = u / (HEART_RADIUS * s), v / (HEART_RADIUS * s) + 0.1  # centre the heart's extent
    heart = (x**2 + y**2 - 1.0) ** 3 <= x**2 * y**3
    kind = shape[:, None, None]
    return np.where(kind == 0, square, np.where(kind == 1, ellipse, heart))


def render_templates(classes: np.ndarray) -> np.ndarray:
    """Render binary 64x64 sprites for factor classes (N, 5): uint8 (N, 64, 64) in {0, 255},
    computed pixel by pixel (slow: use :func:`render`, which shifts templates).

    Pixel (row r, column c) is white when its centre (c + 0.5, r + 0.5) lies inside the shape
    rotated counter-clockwise by the orientation about its centre (module docstring)."""
    values = factor_values(classes)
    grid = np.arange(NATIVE_SIZE, dtype=np.float64) + 0.5
    cx, cy = centre_pixels(values)
    dx = grid[None, None, :] - cx[:, None, None]  # columns
    dy = cy[:, None, None] - grid[None, :, None]  # rows grow downwards: v points up
    cos, sin = np.cos(values[:, 2])[:, None, None], np.sin(values[:, 2])[:, None, None]
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # rotate the pixel into the sprite frame
    inside = _inside(values[:, 0].astype(np.int64), u, v, values[:, 1])
    return inside.astype(np.uint8) * 255


def render(classes: np.ndarray) -> np.ndarray:
    """Render binary 64x64 sprites for factor classes (N, 5): uint8 (N, 64, 64) in {0, 255}.

    Each of the 3 x 6 x 40 (shape, scale, orientation) templates is rendered once at position
    (0, 0) by :func:`render_templates`; an image is its template shifted by ``STEP`` pixels per
    position class (exact, as the sprites never touch the border)."""
    classes = np.asarray(classes, dtype=np.int64)
    keys = np.ravel_multi_index(tuple(classes[:, :3].T), FACTOR_SIZES[:3])
    needed = np.unique(keys)
    base = np.zeros((len(needed), 5), dtype=np.int64)
    base[:, :3] = np.stack(np.unravel_index(needed, FACTOR_SIZES[:3]), axis=1)
    templates = render_templates(base)
    slot = np.searchsorted(needed, keys)
    out = np.zeros((len(classes), NATIVE_SIZE, NATIVE_SIZE), dtype=np.uint8)
    size = NATIVE_SIZE
    for i, (t, x, y) in enumerate(
        zip(slot, classes[:, 3] * STEP, classes[:, 4] * STEP, strict=True)
    ):
        out[i, y:, x:] = templates[t, : size - y, : size - x]
    return out


def downsample(images: np.ndarray, size: int) -> np.ndarray:
    """Area-average uint8 images (N, 64, 64) to (N, size, size), size dividing 64: the white
    fraction of each size-block, rounded to uint8 (grey edge pixels below 64 px)."""
    if NATIVE_SIZE % size:
        raise ValueError(f"data.image_size={size}: dSprites downsamples by whole factors of 64")
    f = NATIVE_SIZE // size
    blocks = images.reshape(len(images), size, f, size, f).astype(np.float32).mean(axis=(2, 4))
    return np.rint(blocks).astype(np.uint8)
