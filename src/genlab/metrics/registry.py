"""The sample-metric registry: every metric's name, the keys it logs and the states it reads.

A metric is a function ``fn(suite, state) -> {key: value}`` registered with
:func:`register_metric`; ``metrics.metrics=[...]`` names registered metrics. Metrics defined
outside genlab register themselves when their module is imported: ``metrics.modules=[my_pkg.m]``
makes the callback call :func:`import_metric_modules` before any name is checked, so a metric (or
a ``@register_extractor`` extractor) in any importable module works without editing genlab.
The keys each metric declares are what ``optimized_metric`` and checkpoint monitoring see before
the metric is first computed.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from typing import Any

#: the states a metric may read: streamed FID sums, or gathered (DDP-concatenated) tensors,
#: or ``context``: the model and datamodule (``genlab.metrics.context.MetricContext``)
STATES = frozenset(
    {
        "fid",
        "real_features",
        "fake_features",
        "fake_logits",
        "fake_labels",
        "real_labels",
        "context",
        "ppl_distances",
    }
)
#: states filled from the model itself (latent paths), not from images: such metrics need a
#: model (not ``genlab-eval fake=``) and run on the primary extractor's suite only
MODEL_STATES = frozenset({"ppl_distances"})


@dataclasses.dataclass(frozen=True)
class SampleMetric:
    """How to compute one sample metric from the suite's states.

    Attributes:
        keys: the scalar result names it returns (logged as ``<stage>/<key>``); any other
            entry it returns (per-class lists, ...) goes to the protocol record.
        needs: the states it reads (see ``STATES``): ``fid`` (streamed float64 sums), gathered
            ``real_features``, ``fake_features``, ``fake_logits`` (N, D/K float32) and
            ``fake_labels`` (requested labels), ``real_labels`` (int64 (N,)), ``ppl_distances``
            (the perceptual path length's distances, filled from the model's latent paths).
        compute: ``(suite, gathered_state) -> {key: value}``.
        conditional: True when it needs labels: added by ``metrics.conditional=true`` for
            class-conditional models (and refused for unconditional ones).
        check: for a context metric, ``check(context)`` raises ValueError before training when
            the model or data cannot give what it needs (the message names the key and the fix).

    A metric whose ``needs`` is ``{"context"}`` is a *context metric*: it reads the model and
    the datamodule through a :class:`~genlab.metrics.context.MetricContext`, not generated
    images; the callback computes it once per evaluation as ``compute(context, {"context":
    context})`` and builds no extractor or samples for it (e.g. MIG and DCI, which encode data).
    """

    keys: tuple[str, ...]
    needs: frozenset[str]
    compute: Callable[[Any, dict[str, Any]], dict[str, Any]]
    conditional: bool = False
    check: Callable[[Any], None] | None = None

    @property
    def is_context(self) -> bool:
        """True for a context metric (reads the model and data, no generated images)."""
        return self.needs == frozenset({"context"})

    @property
    def needs_model(self) -> bool:
        """True when it reads a state filled from the model (``MODEL_STATES``), not images."""
        return bool(self.needs & MODEL_STATES)


#: name -> SampleMetric (``metrics.metrics=[...]``); add one with ``register_metric``
METRICS: dict[str, SampleMetric] = {}


def register_metric(
    name: str,
    keys: Sequence[str],
    needs: Sequence[str],
    conditional: bool | None = None,
    check: Callable[[Any], None] | None = None,
) -> Callable:
    """Decorator: register ``fn(suite, state) -> {key: value}`` as the sample metric ``name``.

    ``keys``: the scalar keys it logs; ``needs``: the states it reads (``STATES``);
    ``conditional``: needs labels (default: True when ``needs`` holds a label state);
    ``check``: context metrics only, ``check(context)`` refuses unusable models/data early.
    ``needs=("context",)`` registers a context metric ``fn(context, state)`` (``SampleMetric``);
    ``context`` cannot be combined with image states.
    Re-registering a name replaces it (a module imported twice stays consistent).
    """
    unknown = set(needs) - STATES
    if unknown or not keys:
        raise ValueError(
            f"metric {name!r}: needs {sorted(unknown)} unknown (allowed: {sorted(STATES)}) "
            f"or no keys ({list(keys)})"
        )
    needs = frozenset(needs)
    if "context" in needs and len(needs) > 1:
        raise ValueError(
            f"metric {name!r}: needs {sorted(needs)} mixes the context with image states; a "
            "context metric reads the model and data itself (needs=('context',))"
        )
    if conditional is None:
        conditional = bool(needs & {"fake_labels", "real_labels"})

    def wrap(fn: Callable) -> Callable:
        METRICS[name] = SampleMetric(tuple(keys), needs, fn, bool(conditional), check)
        return fn

    return wrap


def import_metric_modules(modules: Sequence[str] | None) -> None:
    """Import each dotted module name (``metrics.modules``) so its metrics/extractors register.

    Raises:
        ImportError: a module cannot be imported (the message names ``metrics.modules``).
    """
    for module in modules or ():
        try:
            importlib.import_module(str(module))
        except ImportError as err:
            raise ImportError(
                f"metrics.modules: cannot import {module!r} ({err}); put its folder on "
                "PYTHONPATH or install its package"
            ) from err


def validate_metric_names(metrics: Sequence[str]) -> tuple[str, ...]:
    """Return ``metrics`` as a tuple after checking each name is registered in ``METRICS``."""
    names = tuple(str(m).lower() for m in metrics)
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(
            f"metrics.metrics={list(metrics)} is invalid; choose from {sorted(METRICS)} (a metric "
            "of your own: register it and name its module in metrics.modules)"
        )
    return tuple(dict.fromkeys(names))


def split_context(names: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (image metrics, context metrics) of the registered ``names``, order kept."""
    image = tuple(n for n in names if not METRICS[n].is_context)
    return image, tuple(n for n in names if METRICS[n].is_context)


def metric_keys(names: Sequence[str]) -> tuple[str, ...]:
    """Return the scalar keys (without stage) that the metrics ``names`` log, in order."""
    keys: list[str] = []
    for name in names:
        keys.extend(k for k in METRICS[name].keys if k not in keys)
    return tuple(keys)
