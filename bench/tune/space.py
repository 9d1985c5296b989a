"""The search space of equal-effort tuning: the settings every method is tuned over, the same space and the same
number of trials for each (Lucic et al. 2018; Dodge et al. 2019). Trials are drawn i.i.d. by Optuna's seeded random
sampler, so the k-th trial's settings are the same for every method (a paired design) and an expected-best-after-k
tuning curve over them is valid; each drawn number is rounded to DIGITS significant digits, so a trial's settings
read as a `--set` a user can type, and the cell they name is the one `bench run` trains with those settings."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.core.errors import UsageError

DIGITS = 3  # significant digits kept of a drawn number
DEFAULT_SPACE = {"train.lr": {"low": 1e-4, "high": 3e-3, "log": True}}
DEFAULT_TRIALS = 6
SECTIONS = ("model", "flow", "train", "eval")  # what a space may tune: settings every method has, alike


@dataclass(frozen=True)
class Dimension:
    key: str  # section.field, as --set names it
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        if self.choices:
            return f"{self.key} ∈ {{{', '.join(map(str, self.choices))}}}"
        scale = "log-uniform" if self.log else "uniform"
        kind = "integers" if self.integer else scale
        return f"{self.key} {kind} over [{self.low:g}, {self.high:g}]"

    def distribution(self):
        import optuna

        if self.choices:
            return optuna.distributions.CategoricalDistribution(list(self.choices))
        if self.integer:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)

    def rounded(self, value: Any) -> Any:
        if self.choices or self.integer:
            return value
        return float(f"{value:.{DIGITS}g}")


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]

    def describe(self) -> str:
        return "; ".join(d.describe() for d in self.dimensions)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for d in self.dimensions:
            out[d.key] = ({"choices": list(d.choices)} if d.choices else
                          {"low": d.low, "high": d.high, "log": d.log} | ({"integer": True} if d.integer else {}))
        return out

    def distributions(self) -> dict[str, Any]:
        return {d.key: d.distribution() for d in self.dimensions}

    def draw(self, trials: int, seed: int) -> list[dict[str, Any]]:
        """The settings of trials 0 … trials−1: i.i.d. draws of Optuna's RandomSampler seeded with `seed` (the first
        k draws do not depend on how many follow), rounded."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        distributions = self.distributions()
        drawn = []
        for _ in range(trials):
            trial = study.ask(distributions)
            drawn.append({d.key: d.rounded(trial.params[d.key]) for d in self.dimensions})
            study.tell(trial, 0.0)
        return drawn


def parse_space(spec: dict[str, Any], where: str) -> SearchSpace:
    """A space from its YAML form: key -> {low, high, log?, integer?} or {choices: [...]}; UsageError (one line)
    naming what is wrong."""
    if not isinstance(spec, dict) or not spec:
        raise UsageError(f"{where}: a search space maps settings (e.g. train.lr) to {{low, high, log}} or "
                         "{choices: [...]}")
    dimensions = []
    for key, entry in spec.items():
        section = str(key).partition(".")[0]
        if section not in SECTIONS or "." not in str(key):
            raise UsageError(f"{where}: {key} cannot be tuned; a space tunes settings every method has alike, in "
                             f"{', '.join(SECTIONS)} (e.g. train.lr)")
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: {key} needs {{low, high, log}} or {{choices: [...]}}, got {entry!r}")
        unknown = set(entry) - {"low", "high", "log", "integer", "choices"}
        if unknown:
            raise UsageError(f"{where}: {key} has unknown fields {', '.join(sorted(map(str, unknown)))}; "
                             "available: low, high, log, integer, choices")
        if "choices" in entry:
            choices = entry["choices"]
            if not isinstance(choices, list) or not choices or set(entry) != {"choices"}:
                raise UsageError(f"{where}: {key}: choices must be a non-empty list, and alone")
            dimensions.append(Dimension(str(key), choices=tuple(choices)))
            continue
        try:
            low, high = float(entry["low"]), float(entry["high"])
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"{where}: {key} needs numbers low and high") from None
        log, integer = bool(entry.get("log", False)), bool(entry.get("integer", False))
        if not (math.isfinite(low) and math.isfinite(high) and low < high) or (log and low <= 0):
            raise UsageError(f"{where}: {key} needs finite low < high" + (" and low > 0 (log)" if log else "")
                             + f", got low={low:g}, high={high:g}")
        dimensions.append(Dimension(str(key), low, high, log, integer))
    return SearchSpace(tuple(dimensions))


def load_space(path: Path | None) -> SearchSpace:
    """The space in a YAML file, or the default (learning rate log-uniform over [1e-4, 3e-3])."""
    if path is None:
        return parse_space(DEFAULT_SPACE, "the default space")
    if not path.is_file():
        raise UsageError(f"--space {path}: no such file")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UsageError(f"--space {path} is not YAML: {' '.join(str(err).split())}") from None
    return parse_space(spec, f"--space {path}")
