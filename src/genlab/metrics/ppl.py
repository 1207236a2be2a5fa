"""Perceptual path length (Karras et al. 2019, "A Style-Based Generator Architecture for
Generative Adversarial Networks", Sec. 4.1; ``metrics.metrics=[..., ppl]``).

    PPL = E_{z0, z1, t} [ d(G(I(z0, z1; t)), G(I(z0, z1; t + eps))) / eps^2 ]

with d the LPIPS distance (VGG16, ``genlab.metrics.lpips``, local weights), I the interpolation,
z0, z1 drawn from the model's prior and t ~ U(0, 1) (``sampling=full``) or t = 0 (``end``).
Read against NVlabs/stylegan3 ``metrics/perceptual_path_length.py`` (which "matches the original
implementation by Karras et al.", NVlabs/stylegan ``metrics/perceptual_path_length.py``):

* space ``z``: interpolate the latents and generate; space ``w``: map z0, z1 with the model's
  mapping network (``model.map_latent``, StyleGAN2) and lerp the styles (``generate_mapped``).
* interpolation: ``lerp``; ``slerp`` = the official unit-sphere slerp (for generators that
  normalize z, as StyleGAN's mapping does: what Karras et al.'s Z numbers use); ``slerp_any`` =
  Shoemake's slerp on the raw vectors, keeping their norms (torchmetrics' ``slerp_any``), the
  default in z, since a VAE decoder or DCGAN generator takes z unnormalized. Default in w: lerp.
* both images of a pair see the same internal randomness (StyleGAN2's noise inputs): torch's
  global RNG is re-seeded to one value before each half, inside ``fork_rng``.
* ``crop``: the official face crop (rows 3/8..7/8, columns 2/8..6/8); images above 256 px are
  box-downsampled to 256 (official); grey images are repeated to 3 channels; [0, 1] -> [-1, 1].
* distances outside the [1, 99] percentiles (numpy's ``lower`` / ``higher``) are discarded, then
  averaged. Key ``ppl`` (LPIPS units / eps^2); ``ppl_std`` and counts go to the protocol.

torchmetrics' ``perceptual_path_length`` and torch-fidelity's ``calculate_ppl`` evaluate only
t = 0 in z (``sampling=end``): genlab equals them there (tests) and adds ``full`` and ``w``.
Noise, t and labels come from a CPU generator seeded per rank (``add_generated``); distances are
a ``cat`` state, synced over DDP ranks in ``compute()``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from genlab.contract import GenerativeModel, require_generative
from genlab.metrics.lpips import build_lpips, weights_name
from genlab.metrics.registry import register_metric
from genlab.metrics.weights import file_hash
from genlab.utils.eval_mode import eval_mode
from genlab.utils.ranges import Num, RangeError, check_ranges

SPACES, SAMPLINGS = ("z", "w"), ("full", "end")
INTERPOLATIONS = ("lerp", "slerp", "slerp_any")
_TINY = 1e-7


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """a + (b - a) t for rows a, b (N, ...) and t (N,)."""
    return a + (b - a) * t.view(-1, *([1] * (a.dim() - 1)))


def slerp_unit(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """The official slerp: a, b (N, D) projected to the unit sphere, rotated by t * angle; unit
    norm output (NVlabs/stylegan3 ``perceptual_path_length.slerp``)."""
    a, b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    d = (a * b).sum(-1, keepdim=True)
    p = t[:, None] * torch.acos(d.clamp(-1.0, 1.0))
    c = b - d * a
    c = c / c.norm(dim=-1, keepdim=True).clamp_min(_TINY)
    out = a * torch.cos(p) + c * torch.sin(p)
    return out / out.norm(dim=-1, keepdim=True)


def slerp_any(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Shoemake's slerp of raw vectors a, b (N, D): (sin((1-t) w) a + sin(t w) b) / sin w with w
    the angle between them; lerp where they are (anti)parallel."""
    cos = ((a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(_TINY)).clamp(-1, 1)
    omega = torch.acos(cos)[:, None]
    sin = torch.sin(omega)
    tt = t[:, None]
    out = (torch.sin((1 - tt) * omega) * a + torch.sin(tt * omega) * b) / sin.clamp_min(_TINY)
    return torch.where(sin > 1e-6, out, lerp(a, b, t))


def interpolate(a: Tensor, b: Tensor, t: Tensor, method: str) -> Tensor:
    """Interpolate latents a, b (N, *shape) at t (N,) with ``method`` (``INTERPOLATIONS``);
    spatial latents are flattened for the slerps."""
    if method == "lerp":
        return lerp(a, b, t)
    fn = slerp_unit if method == "slerp" else slerp_any
    return fn(a.flatten(1), b.flatten(1), t).view_as(a)


@dataclasses.dataclass(frozen=True)
class PPLSettings:
    """The PPL protocol (``metrics.options.ppl_<field>``), checked on construction.

    Attributes:
        num_samples: latent pairs (official: 50k in stylegan3's ``ppl2_wend``, 100k in StyleGAN).
        epsilon: step along the path (1e-4). space: ``z`` or ``w``. sampling: ``full`` (t ~
            U(0, 1)) or ``end`` (t = 0). interpolation: ``INTERPOLATIONS`` (None: slerp_any in
            z, lerp in w). crop: the official face crop. lpips_net: vgg | alex | squeeze.
        lpips_resize: side (px) LPIPS resizes both images to (None: as generated, > 256 px
            box-downsampled to 256). discard_lower, discard_upper: percentiles kept (1, 99;
            None: keep all).
    """

    RANGES = {  # noqa: RUF012 - declared ranges (genlab.utils.ranges)
        "num_samples": Num(integer=True, low=2),
        "epsilon": Num(low=0, low_open=True, high=1),
        "lpips_resize": Num(integer=True, low=16, optional=True),
        "discard_lower": Num(low=0, high=100, low_open=True, high_open=True, optional=True),
        "discard_upper": Num(low=0, high=100, low_open=True, high_open=True, optional=True),
    }

    num_samples: int = 1000
    epsilon: float = 1e-4
    space: str = "z"
    sampling: str = "full"
    interpolation: str | None = None
    crop: bool = False
    lpips_net: str = "vgg"
    lpips_resize: int | None = None
    discard_lower: float | None = 1.0
    discard_upper: float | None = 99.0

    def __post_init__(self) -> None:
        try:
            check_ranges(self, **{k: getattr(self, k) for k in self.RANGES})
        except RangeError as err:
            err.args = (f"metrics.options.ppl_{err.arg}={err.value!r} is invalid: {err.expected}.",)
            raise
        for key, value, allowed in (
            ("space", self.space, SPACES),
            ("sampling", self.sampling, SAMPLINGS),
            ("interpolation", self.method, INTERPOLATIONS),
        ):
            if value not in allowed:
                raise ValueError(
                    f"metrics.options.ppl_{key}={value!r}; allowed: {', '.join(allowed)}"
                )
        lo, hi = self.discard_lower, self.discard_upper
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError(
                f"metrics.options.ppl_discard_lower={lo} must be below ppl_discard_upper={hi}"
            )

    @property
    def method(self) -> str:
        """The interpolation used: as given, else slerp_any in z and lerp in w."""
        return self.interpolation or ("lerp" if self.space == "w" else "slerp_any")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> PPLSettings:
        """Settings from ``metrics.options`` (keys ``ppl_<field>``; others ignored)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        given = {k[4:]: v for k, v in options.items() if k.startswith("ppl_")}
        unknown = sorted(set(given) - fields - {"lpips_weights"})
        if unknown:
            raise ValueError(
                f"metrics.options: unknown PPL settings {['ppl_' + u for u in unknown]}; allowed: "
                f"{sorted('ppl_' + f for f in fields)}"
            )
        return cls(**{k: v for k, v in given.items() if k in fields})


def check_model(model: object, settings: PPLSettings) -> GenerativeModel:
    """Return ``model`` if PPL is defined for it; else a TypeError/ValueError saying why.

    PPL needs an image model with a continuous latent (``continuous_latent``; VQ-VAE's codes
    are not), and for ``space=w`` a mapping network (``has_mapping``: model=stylegan2)."""
    model = require_generative(model, "the perceptual path length (ppl)")
    name = type(model).__name__
    if not model.is_image_model:
        raise ValueError(f"ppl needs image samples; {name} generates {model.data_shape} points")
    if not model.latent_shape or not getattr(model, "continuous_latent", True):
        raise ValueError(
            f"ppl interpolates a continuous latent, and {name} has none (latent_shape="
            f"{tuple(model.latent_shape)}, continuous_latent=False: its generate() snaps latents "
            "to discrete codes, so latent paths are piecewise constant); drop ppl from "
            "metrics.metrics for this model"
        )
    if settings.space == "w" and not model.has_mapping:
        raise ValueError(
            f"metrics.options.ppl_space=w needs a mapping network (z -> w); {name} has none "
            "(has_mapping=False). Use ppl_space=z, or a style-based generator (model=stylegan2)."
        )
    return model


class PerceptualPathLength(Metric):
    """PPL distances of a model's latent paths; ``compute()`` syncs them and reduces.

    Args:
        settings: the protocol (:class:`PPLSettings`).
        distance: ``d(x0, x1) -> (N,)`` or (N, 1, 1, 1) on [-1, 1] image pairs; None: LPIPS of
            ``settings.lpips_net`` from the local file in ``extractor_weights``.
        extractor_weights: ``metrics.extractor_weights`` (key ``lpips_<net>``).
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = False

    def __init__(
        self,
        settings: PPLSettings | None = None,
        distance: torch.nn.Module | None = None,
        extractor_weights: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings or PPLSettings()
        self.weights_path: str | None = None
        self.weights_hash: str | None = None
        if distance is None:
            resize = self.settings.lpips_resize
            distance, path = build_lpips(self.settings.lpips_net, extractor_weights, resize)
            self.weights_path, self.weights_hash = str(path), file_hash(path)
        self.distance = distance
        self.add_state("distances", [], dist_reduce_fx="cat")

    def _images(self, model: GenerativeModel, latents: Tensor, labels: Tensor | None) -> Tensor:
        """Generated images (N, 3, H', W') in [-1, 1] after crop / downsampling."""
        s = self.settings
        x = (model.generate_mapped if s.space == "w" else model.generate)(latents, labels)
        x = x if x.dtype in (torch.float32, torch.float64) else x.float()  # half -> float32
        if s.crop:
            c = x.shape[2] // 8
            x = x[:, :, c * 3 : c * 7, c * 2 : c * 6]
        factor = x.shape[2] // 256
        if factor > 1:
            n, ch, h, w = x.shape
            x = x.reshape(n, ch, h // factor, factor, w // factor, factor).mean((3, 5))
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return 2 * x - 1

    def _pair(
        self, model: GenerativeModel, lat0: Tensor, lat1: Tensor, labels: Tensor | None, seed: int
    ) -> Tensor:
        """d(G(lat0), G(lat1)) / eps^2 (N,), float64; both halves under the same global seed."""
        devices = [model.device] if model.device.type == "cuda" else []
        images = []
        for lat in (lat0, lat1):
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                images.append(self._images(model, lat, labels))
        d = self.distance(images[0], images[1]).reshape(len(lat0)).double()
        return d / self.settings.epsilon**2

    @torch.no_grad()
    def update(
        self, model: GenerativeModel, num: int, generator: torch.Generator, batch_size: int = 100
    ) -> None:
        """Add ``num`` path distances of ``model`` (z0, z1, t, labels and a noise seed drawn
        from the CPU ``generator`` per batch, in that order)."""
        s = self.settings
        model = check_model(model, s)
        with eval_mode(model, no_grad=False):  # _pair decides about gradients
            for start in range(0, num, batch_size):
                n = min(batch_size, num - start)
                z0, z1 = model.sample_noise(n, generator), model.sample_noise(n, generator)
                t = torch.rand(n, generator=generator, dtype=torch.float64)
                t = (t if s.sampling == "full" else torch.zeros_like(t)).to(z0.device)
                labels = model.sample_labels(n, generator)
                seed = int(torch.randint(0, 2**62, (), generator=generator))
                if s.space == "w":
                    z0, z1 = model.map_latent(z0, labels), model.map_latent(z1, labels)
                dtype, a, b = z0.dtype, z0.double(), z1.double()  # the path in float64
                lat0 = interpolate(a, b, t, s.method).to(dtype)
                lat1 = interpolate(a, b, t + s.epsilon, s.method).to(dtype)
                self.distances.append(self._pair(model, lat0, lat1, labels, seed).to(self.device))

    def compute(self) -> dict[str, Any]:
        """``{"ppl": mean of the kept distances, "ppl_std", "ppl_num_samples", "ppl_num_kept"}``
        (LPIPS / eps^2 units); must run on every DDP rank."""
        if isinstance(self.distances, list) and not self.distances:
            raise ValueError(
                "ppl has no path distances: it needs the model (genlab-train, or genlab-eval "
                "ckpt_path=...), not samples from files"
            )
        d = dim_zero_cat(self.distances).double()
        keep = torch.ones_like(d, dtype=torch.bool)
        s = self.settings
        if s.discard_lower is not None:
            keep &= d >= torch.quantile(d, s.discard_lower / 100, interpolation="lower")
        if s.discard_upper is not None:
            keep &= d <= torch.quantile(d, s.discard_upper / 100, interpolation="higher")
        kept = d[keep]
        std = float(kept.std(unbiased=False)) if len(kept) > 1 else math.nan
        return {
            "ppl": float(kept.mean()),
            "ppl_std": std,
            "ppl_num_samples": len(d),
            "ppl_num_kept": len(kept),
        }

    def record(self) -> dict[str, Any]:
        """The protocol entries: every setting (``ppl_<field>``), the resolved interpolation and
        the LPIPS weights file and hash."""
        out = {f"ppl_{k}": v for k, v in dataclasses.asdict(self.settings).items()}
        out["ppl_interpolation"] = self.settings.method
        out["ppl_distance"] = (
            f"lpips_{self.settings.lpips_net} (torchmetrics' LPIPS module)"
            if self.weights_path
            else type(self.distance).__name__
        )
        out[f"ppl_{weights_name(self.settings.lpips_net)}_path"] = self.weights_path
        out[f"ppl_{weights_name(self.settings.lpips_net)}_hash"] = self.weights_hash
        return out


@register_metric("ppl", keys=("ppl",), needs=("ppl_distances",))
def _ppl(suite, state: dict) -> dict[str, Any]:
    return suite.ppl.compute()
