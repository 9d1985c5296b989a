"""Run configuration: typed sections, profiles as data, `--set section.field=value` overrides, and the
config hash that identifies a result cell. Resolution order: dataclass defaults, the suite's defaults,
the profile, then the command line."""
from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bench.core.errors import ConfigError, UsageError
from bench.core.names import PROFILES, set_item
from methods import METHODS
from methods.backbone.config import FlowConfig, ModelConfig, at_least
from tasks import SUITES, EvalConfig


@dataclass
class TrainConfig:
    steps: int = 100_000  # the budget when budget = steps (equal steps for every method)
    budget: str = "steps"  # steps | samples | flops | seconds: what every method gets the same amount of
    budget_amount: float = 0.0  # samples, FLOPs or seconds of training per cell (budget != steps)
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    warmup_steps: int = 1_000  # linear warmup, then constant (paper Tab. E.2)
    grad_clip: float = 1.0
    ema_decay: float = 0.999  # EMA weights are the ones evaluated
    log_every: int = 50  # steps between loss logs (MLflow)
    checkpoint_every: int = 1_000  # steps between resumable checkpoints; 0: none
    precision: str = "fp32"  # fp32 | bf16: the forward pass under torch.autocast to bfloat16 (bench/run/train.py)

    def __post_init__(self):
        at_least(self, 1, "steps", "batch_size", "log_every")
        at_least(self, 0, "warmup_steps", "checkpoint_every", "weight_decay", "grad_clip")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, not {self.lr}")
        for name in ("beta1", "beta2", "ema_decay"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), not {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision '{self.precision}'; available: {', '.join(PRECISIONS)}")
        if self.budget not in BUDGETS:
            raise ValueError(f"unknown budget '{self.budget}'; available: {', '.join(BUDGETS)}")
        if self.budget == "steps" and self.budget_amount:
            raise ValueError("budget_amount is for budget samples, flops or seconds; a steps budget is train.steps")
        if self.budget != "steps" and not self.budget_amount > 0:
            raise ValueError(f"budget {self.budget} needs a positive budget_amount (train.budget_amount=...)")
        if self.budget == "steps" and self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be shorter than the run (steps={self.steps}): "
                             "the learning rate would never reach train.lr")


@dataclass
class MediaConfig:
    """The media stage of suites that have one (image_text_audio): decoded media scored by the paper's metrics."""

    weights: str = ""  # a YAML file of local model paths (tasks/image_text_audio/media.py: WEIGHTS); "": no stage
    samples: int = 64  # items per task, at most
    batch_size: int = 8  # items per decoder call
    time_limit_s: float = 0.0  # > 0: a short warm-up sizes the items per task so that the stage takes about this

    def __post_init__(self):
        at_least(self, 4, "samples")
        at_least(self, 1, "batch_size")
        if not self.time_limit_s >= 0:
            raise ValueError(f"time_limit_s must be at least 0, not {self.time_limit_s}")


BUDGETS = ("steps", "samples", "flops", "seconds")
PRECISIONS = ("fp32", "bf16")
# operational settings, left out of the hash: a record keeps its identity (and its file name) when they change
NOT_HASHED = {"train": ("log_every", "checkpoint_every"), "eval": ("figure_samples", "progress_samples")}
# of those, the ones that shape what a record holds, though not what its metrics mean: log_every sets the loss
# curve's resolution, and its logged steps run under the FLOP counter, whose reordered sums move the weights in
# the last bits; progress_samples sets the progress curve; figure_samples the samples kept. A record made with
# other values is not reused, nor a checkpoint made with other values resumed (bench/run/job.py)
SHAPING = {"train": ("log_every",), "eval": ("progress_samples", "figure_samples")}
# settings added after records existed, left out of the hash while they have the value that reproduces those
# records, so a record keeps its identity (and its file name) when a setting is added
OMITTED_AT_DEFAULT = {"train": {"budget": "steps", "budget_amount": 0.0, "precision": "fp32"},
                      "eval": {"bootstrap": 200}}

COMMON_SECTIONS: dict[str, type] = {"model": ModelConfig, "flow": FlowConfig, "train": TrainConfig,
                                    "eval": EvalConfig, "media": MediaConfig}


@dataclass
class CellConfig:
    """Everything that determines one result cell (suite × method × seed)."""

    suite: str
    method: str
    seed: int
    profile: str
    data: Any
    model: ModelConfig
    flow: FlowConfig
    train: TrainConfig
    eval: EvalConfig
    options: Any
    media: MediaConfig = field(default_factory=MediaConfig)
    overrides: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        sections = {name: dataclasses.asdict(getattr(self, name)) for name in ("data", *COMMON_SECTIONS)}
        return {"suite": self.suite, "method": self.method, "seed": self.seed, "profile": self.profile,
                **sections, "options": dataclasses.asdict(self.options), "overrides": list(self.overrides)}

    def config_hash(self) -> str:
        """Hash of what determines the results, seed and labels excluded: seeds of one config share it."""
        d = self.to_dict()
        for label in ("seed", "profile", "overrides"):
            d.pop(label)
        for section, names in NOT_HASHED.items():
            for name in names:
                d[section].pop(name)
        if not d["media"]["weights"]:
            d.pop("media")  # no media stage: its settings change nothing
        for section, defaults in OMITTED_AT_DEFAULT.items():
            for name, default in defaults.items():
                if d[section][name] == default:
                    d[section].pop(name)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    def shaping_settings(self) -> dict[str, Any]:
        """section.field -> value of the SHAPING settings."""
        return {f"{section}.{name}": getattr(getattr(self, section), name)
                for section, names in SHAPING.items() for name in names}

    def flat(self) -> dict[str, Any]:
        """section.field -> value, for tracking params."""
        out = {}
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                out.update({f"{key}.{k}": v for k, v in value.items()})
            elif key != "overrides":
                out[key] = value
        return out


def load_profile(name: str) -> dict[str, Any]:
    if name not in PROFILES:
        raise ConfigError(f"unknown profile '{name}'; available: {', '.join(PROFILES)}")
    return copy.deepcopy(parsed_yaml(resources.files("bench").joinpath("profiles", f"{name}.yaml").read_text()))


@functools.lru_cache(maxsize=64)
def parsed_yaml(text: str) -> Any:
    """A profile's YAML, parsed once per content (a matrix resolves it once per cell); callers get a copy."""
    return yaml.safe_load(text) or {}


def coerce(value: Any, kind: type, key: str) -> Any:
    """Turn a YAML or command-line value into the field's type, or say what was expected."""
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                lowered = text.lower()
                if lowered in ("true", "1", "yes", "on"):
                    return True
                if lowered in ("false", "0", "no", "off"):
                    return False
                raise ValueError
            value = kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
        except (ValueError, OverflowError):
            raise ConfigError(f"{key} expects {names.get(kind, kind.__name__)}, got '{value}'") from None
        if kind is float and not math.isfinite(value):
            raise ConfigError(f"{key} expects a finite number, got '{text}'")
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} expects a finite number, got {value!r}")
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{key} expects {names.get(kind, kind.__name__)}, got {value!r}")
    return value


def field_types(cls: type) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def unknown_key(section: str, name: str, cls: type) -> ConfigError:
    valid = list(field_types(cls))
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean {section}.{close[0]}? " if close else ""
    return ConfigError(f"{section}.{name} is not a setting; {hint}valid keys in {section}: {', '.join(valid)}")


def build_section(section: str, cls: type, values: dict[str, Any]):
    types = field_types(cls)
    kwargs = {}
    for name, value in values.items():
        if name not in types:
            raise unknown_key(section, name, cls)
        kwargs[name] = coerce(value, types[name], f"{section}.{name}")
    try:
        return cls(**kwargs)
    except ValueError as err:
        raise ConfigError(f"{section}: {err}") from None


def parse_overrides(overrides: list[str]) -> list[tuple[str, str, str]]:
    """'train.steps=2000' -> ('train', 'steps', '2000'); sections are common sections, 'data' or a method."""
    try:
        return [set_item(item) for item in overrides]
    except UsageError as err:
        raise ConfigError(str(err)) from None


def validate_overrides(overrides: list[str], suite: str, methods: list[str]) -> None:
    """Check every --set key against the sections it names, before any cell runs."""
    suite_cls = SUITES.get(suite)
    seen: dict[str, str] = {}
    for section, name, value in parse_overrides(overrides):
        key = f"{section}.{name}"
        if key in seen:
            raise ConfigError(f"--set {key} is given twice ({seen[key]!r} and {value!r}); give it once")
        seen[key] = value
        if section in METHODS.names() and section not in methods:
            raise ConfigError(f"--set {section}.{name}: method '{section}' is not in this run "
                              f"({', '.join(methods)})")
        cls = (suite_cls.DataConfig if section == "data" else COMMON_SECTIONS.get(section)
               or METHODS.get(section).Options)
        if name not in field_types(cls):
            raise unknown_key(section, name, cls)


def resolve(suite: str, method: str, seed: int, profile: str, overrides: list[str] | None = None
            ) -> CellConfig:
    suite_cls, method_cls = SUITES.get(suite), METHODS.get(method)
    overrides = [item for item in overrides or []  # keep what applies to this cell (other methods' options do not)
                 if item.partition(".")[0] not in METHODS.names() or item.partition(".")[0] == method]
    values: dict[str, dict[str, Any]] = {name: {} for name in ("data", *COMMON_SECTIONS, "options")}
    for section, fields in suite_cls.defaults.items():
        values[section].update(fields)
    profile_suites = load_profile(profile).get("suites") or {}
    if suite not in profile_suites:
        raise ConfigError(f"profile '{profile}' has no settings for suite '{suite}'; it has: "
                          f"{', '.join(profile_suites) or 'none'}")
    suite_profile = profile_suites[suite] or {}
    for section, fields in suite_profile.items():
        if section == "options":
            values["options"].update((fields or {}).get(method) or {})
        elif section in values:
            values[section].update(fields or {})
        else:
            raise ConfigError(f"profile '{profile}' has an unknown section '{section}' for suite '{suite}'")
    for section, name, value in parse_overrides(overrides):
        if section == method:
            values["options"][name] = value
        elif section in values and section != "options":
            values[section][name] = value
    classes = {"data": suite_cls.DataConfig, **COMMON_SECTIONS}
    built = {name: build_section(name, cls, values[name]) for name, cls in classes.items()}
    options = build_section(method, method_cls.Options, values["options"])
    if built["media"].weights:
        if not suite_cls.has_media:
            media_suites = [name for name in SUITES.names() if SUITES.get(name).has_media]
            raise ConfigError(f"--set media.weights: suite '{suite}' has no media stage; suites with one: "
                              f"{', '.join(media_suites)}")
        weights = Path(built["media"].weights).expanduser()
        if weights.is_file():
            try:
                yaml.safe_load(weights.read_text())
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                raise ConfigError(f"media.weights: {weights} is not YAML: {getattr(err, 'problem', None) or err}"
                                  f"{where}") from None
        try:
            suite_cls.check_media(built["media"].weights)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    try:
        rows = suite_cls.training_rows(built["data"])  # may read a user's data files: their problems are usage errors
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if built["train"].batch_size > rows:
        raise ConfigError(f"train.batch_size ({built['train'].batch_size}) is larger than the training set "
                          f"({rows} tuples, data.n_train); lower train.batch_size or raise data.n_train")
    return CellConfig(suite=suite, method=method, seed=seed, profile=profile, options=options,
                      overrides=overrides, **built)
