"""How much tuning bought each method: tuning curves from a tuned-settings file (bench/core/tuned.py, written by
`bench tune`), per method and headline metric, on validation tuples at the end of training (never a test tuple).

A trial's loss is the metric oriented by its ideal, smaller being better: the value (lower), its negative (higher),
its distance to the oracle's value on the same tuples (match): bench/core/ideal.py, as tuning selects. A failed
(diverged) trial, or a finished one without a value, counts as the worst possible loss, +inf. Pending trials are
left out. Curves are shown in the metric's own orientation: the value (lower, higher), the distance to the oracle's
value (match).

What is computed, for k = 1..N (N the method's finished trials), with opda (Lourie et al. 2023):
- expected: the expected best after k trials drawn from the N (Dodge et al. 2019). It needs no bound, but a failed
  trial makes it infinite at every k (k draws may all fail), so then it is not drawn;
- median: the median tuning curve, the median of the best of k trials;
- band_best, band_worst: the simultaneous 80% (CONFIDENCE) band of the median tuning curve (Learned-Miller-DeStefano
  equal-tailed CDF bands), at every k at once. The band is of the median, not of the expected curve: the expected
  curve's pessimistic band is infinite for an error metric (unbounded above) whatever the trials. The median's
  needs a bound only on the optimistic side, where the band reaches the support's end as k grows: 0 for a distance
  (match), the oracle's value for lower and higher (the real data's own score on the same tuples, the ideal at that
  sample size), or none (an infinite edge, drawn to the panel's edge) when no oracle value is known or a trial
  beats it. The pessimistic side is unbounded (error metrics are, and a failed trial is +inf), so with few trials
  the pessimistic edge is infinite at small k.
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from opda.nonparametric import EmpiricalDistribution

from base.results import MetricSpec
from bench.core.ideal import loss
from bench.core.tuned import Tuned
from bench.figures.curves import Panel, TuningLine

CONFIDENCE = 0.80  # the band's simultaneous coverage, as in opda's examples and Lourie et al. 2023's figures
BAND_METHOD = "ld_equal_tailed"  # nearly as tight as ld_highest_density, and far faster to compute
BAND_SEED = 0  # the band's critical value is simulated (opda); a fixed seed makes a report reproducible
FIGURE_TITLE = (f"Best validation value after k trials: line = expected (Dodge et al. 2019; not drawn when a trial "
                f"failed); dashed = median, shaded = its {CONFIDENCE:.0%} simultaneous band. A failed trial counts as "
                "the worst value.")
@dataclass(frozen=True)
class TrialSummary:
    number: int
    settings: dict[str, Any]
    status: str  # ok | failed | pending
    score: float | None  # its mean rank in the selection (bench/tune/selection.py)
    selected: bool
    values: dict[str, float]  # headline key -> its value as the curves show it (value; distance for match)


@dataclass(frozen=True)
class TuningCurve:
    """One method's tuning curve of one metric, in the metric's orientation; every list is indexed like `ks`."""

    metric: MetricSpec
    ks: list[int]  # 1..trials
    expected: list[float]
    median: list[float]
    band_best: list[float]
    band_worst: list[float]
    trials: int  # the finished trials it is drawn from
    failed: int  # of which failed (or without a value of this metric)

    @property
    def quantity(self) -> str:
        return "distance to the oracle's value" if self.metric.ideal == "match" else "value"


@dataclass(frozen=True)
class MethodTuning:
    method: str
    complete: bool  # every trial finished and one was selected
    selected: int | None  # the selected trial's number
    trials: list[TrialSummary]
    curves: dict[str, TuningCurve]  # headline key -> its curve, for the metrics the method has a value of


@dataclass(frozen=True)
class TuningModel:
    suite: str
    profile: str
    specs: list[MetricSpec]
    methods: list[MethodTuning]
    confidence: float = CONFIDENCE


def shown(spec: MetricSpec, value: float) -> float:
    """A loss in the metric's own orientation (a higher-is-better value back to its sign)."""
    return -value if spec.ideal == "higher" else value


def tuning_model(tuned: Tuned, specs: list[MetricSpec]) -> TuningModel:
    """Per method of the tuned file: its trials, and its tuning curve of each headline metric."""
    methods = [method_tuning(name, entry, specs) for name, entry in tuned.methods().items()]
    return TuningModel(tuned.data.get("suite", ""), tuned.data.get("profile", ""), list(specs), methods)


def method_tuning(method: str, entry: dict[str, Any], specs: list[MetricSpec]) -> MethodTuning:
    selected = entry.get("selected_trial")
    trials = entry.get("trials") or []
    finished = [t for t in trials if t.get("status") in ("ok", "failed")]
    curves, losses = {}, {}
    for spec in specs:
        losses[spec.key], bound = trial_losses(spec, finished)
        if any(spec.key in (t.get("validation") or {}) for t in finished if t["status"] == "ok"):
            curves[spec.key] = tuning_curve(spec, losses[spec.key], bound)
    index = {t["number"]: i for i, t in enumerate(finished)}
    summaries = [TrialSummary(t["number"], dict(t.get("settings") or {}), t.get("status", "pending"), t.get("score"),
                              t["number"] == selected,
                              {s.key: shown(s, losses[s.key][index[t["number"]]]) for s in specs
                               if t.get("status") == "ok" and s.key in (t.get("validation") or {})})
                 for t in trials]
    return MethodTuning(method, bool(entry.get("complete")), selected, summaries, curves)


def trial_losses(spec: MetricSpec, trials: list[dict[str, Any]]) -> tuple[list[float], float]:
    """Each trial's validation loss (+inf where it did not finish ok), and the best loss possible: 0 for a distance
    to the real value; else the oracle's value as a loss, when known (-inf when not)."""
    own = [loss(spec, (t.get("validation") or {}).get(spec.key), (t.get("oracle") or {}).get(spec.key))
           if t.get("status") == "ok" else math.inf for t in trials]
    if spec.ideal == "match":
        return own, 0.0
    oracles = [loss(spec, v, None) for t in trials
               if (v := (t.get("oracle") or {}).get(spec.key)) is not None and math.isfinite(v)]
    return own, min(oracles, default=-math.inf)


def tuning_curve(spec: MetricSpec, losses: list[float], bound: float = -math.inf) -> TuningCurve:
    """The curves of N trial losses (+inf: failed), `bound` the smallest loss possible (ignored where a trial
    beats it)."""
    ys = np.asarray(losses, dtype=float)
    ks = np.arange(1, len(ys) + 1)
    a = bound if bound <= ys.min() else -math.inf
    with warnings.catch_warnings():
        # ties (failed trials, equal values) only make the band's coverage approximate; the band stays
        warnings.filterwarnings("ignore", message="Duplicates detected", category=RuntimeWarning)
        lower_cdf, point, upper_cdf = EmpiricalDistribution.confidence_bands(
            ys, CONFIDENCE, a=a, b=math.inf, method=BAND_METHOD, generator=band_generator(len(ys), CONFIDENCE),
            n_jobs=1)
    # the upper CDF band gives the tuning curve's lower (best, for a loss) edge, and the lower CDF band its upper
    curves = [point.average_tuning_curve(ks, minimize=True), point.quantile_tuning_curve(ks, minimize=True),
              upper_cdf.quantile_tuning_curve(ks, minimize=True), lower_cdf.quantile_tuning_curve(ks, minimize=True)]
    expected, median, best, worst = ([shown(spec, float(v)) for v in curve] for curve in curves)
    return TuningCurve(spec, ks.tolist(), expected, median, best, worst, len(ys), int(np.isinf(ys).sum()))


@functools.cache
def band_generator(n: int, confidence: float) -> np.random.Generator:
    """One seeded generator per sample size: opda caches the band it simulates per (size, generator), so each
    size is simulated once per process, from the same seed whatever came before."""
    return np.random.default_rng(BAND_SEED)


def tuning_panels(model: TuningModel) -> list[Panel]:
    """The model as the tuning figure's panels (bench/figures/curves.py): one per headline metric."""
    panels = []
    for spec in model.specs:
        lines = [TuningLine(m.method, c.ks, c.expected, c.median, c.band_best, c.band_worst)
                 for m in model.methods if (c := m.curves.get(spec.key))]
        ylabel = "best |value − oracle|" if spec.ideal == "match" else "best value"
        panels.append(Panel(f"{spec.label} {spec.arrow}", ylabel, lines))
    return panels
