"""The controlled Gaussian-mixture data of paper App. D: three modalities built from seven independent
factors (one shared by all, three pair-shared, three private), each factor drawn from its own random
64-component Gaussian mixture; x_m is the concatenation of the factors involving m (spec 4.1-4.3)."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MODALITIES = ("x1", "x2", "x3")
FACTORS = ("s123", "s12", "s13", "s23", "p1", "p2", "p3")
VERSION = 1  # bump when generation changes, so cached data made by older code is not reused
VALIDATION_SEED = 5_000_011  # the validation tuples' own draws, apart from those of the training and test tuples


@dataclass
class GaussianMixtureData:
    d_all: int = 12  # dimension of the factor shared by all three modalities ([NF]; spec 4.2 default A)
    d_pair: int = 12  # dimension of each pair-shared factor
    d_priv: int = 24  # dimension of each private factor
    components: int = 64  # mixture components per factor (paper)
    mean_range: float = 3.0  # component means ~ U[-r, r]
    std_min: float = 0.1  # component per-dimension stds ~ U[std_min, std_max]
    std_max: float = 0.5
    weights: str = "uniform"  # component weights: uniform | dirichlet
    n_train: int = 100_000
    n_test: int = 10_000
    n_val: int = 10_000  # validation tuples: fresh draws of the same mixtures from their own seed (VALIDATION_SEED)
    seed: int = 1234  # generator seed: mixture parameters and samples

    def __post_init__(self):
        if self.weights not in ("uniform", "dirichlet"):
            raise ValueError(f"weights must be one of uniform, dirichlet, not '{self.weights}'")
        for name in ("d_all", "d_pair", "d_priv", "components", "n_train", "n_test", "n_val"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 < self.std_min <= self.std_max:
            raise ValueError(f"need 0 < std_min <= std_max, not std_min={self.std_min}, std_max={self.std_max}")
        if not self.mean_range >= 0:
            raise ValueError(f"mean_range must be at least 0, not {self.mean_range}")
        if self.seed < 0:
            raise ValueError(f"seed must be at least 0, not {self.seed}")

    def factor_dim(self, factor: str) -> int:
        return self.d_all if factor == "s123" else self.d_pair if factor.startswith("s") else self.d_priv

    def key(self) -> str:
        fields = asdict(self) | {"version": VERSION}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def modality_factors(modality: str) -> list[str]:
    """Factors that make up a modality, in concatenation order: x1 = [s123, s12, s13, p1]."""
    digit = modality[1:]
    return [f for f in FACTORS if digit in f[1:]]


def layout(cfg: GaussianMixtureData, modality: str) -> dict[str, slice]:
    """Where each factor sits inside a modality's vector."""
    out, start = {}, 0
    for factor in modality_factors(modality):
        out[factor] = slice(start, start + cfg.factor_dim(factor))
        start += cfg.factor_dim(factor)
    return out


def shared_index(cfg: GaussianMixtureData, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the factors shared by modalities a and b (s123 and s_ab), in a's and in b's vector."""
    la, lb = layout(cfg, a), layout(cfg, b)
    shared = [f for f in la if f in lb]
    ia = np.concatenate([np.arange(la[f].start, la[f].stop) for f in shared])
    ib = np.concatenate([np.arange(lb[f].start, lb[f].stop) for f in shared])
    return ia, ib


@dataclass
class Mixture:
    """One factor's Gaussian mixture, and the training set's mean and std its coordinates are standardised by."""
    means: np.ndarray  # (components, d)
    stds: np.ndarray  # (components, d)
    weights: np.ndarray  # (components,)
    centre: np.ndarray | None = None  # (d,) training mean
    scale: np.ndarray | None = None  # (d,) training std

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n fresh values, standardised like the data."""
        comp = rng.choice(len(self.weights), size=n, p=self.weights)
        values = self.means[comp] + self.stds[comp] * rng.standard_normal((n, self.means.shape[1]))
        return (values - self.centre) / self.scale


def sample_factors(cfg: GaussianMixtureData, n: int) -> tuple[dict[str, np.ndarray], dict[str, Mixture]]:
    """n draws of every factor (raw), and the factors' mixtures."""
    rng = np.random.default_rng(cfg.seed)
    out, mixtures = {}, {}
    for factor in FACTORS:
        d, k = cfg.factor_dim(factor), cfg.components
        means = rng.uniform(-cfg.mean_range, cfg.mean_range, size=(k, d))
        stds = rng.uniform(cfg.std_min, cfg.std_max, size=(k, d))
        weights = np.full(k, 1.0 / k) if cfg.weights == "uniform" else rng.dirichlet(np.ones(k))
        comp = rng.choice(k, size=n, p=weights)
        out[factor] = means[comp] + stds[comp] * rng.standard_normal((n, d))
        mixtures[factor] = Mixture(means, stds, weights)
    return out, mixtures


def mixtures(cfg: GaussianMixtureData) -> dict[str, Mixture]:
    """Every factor's mixture with the training statistics the data is standardised by (the generation replayed;
    the oracle generator draws from these)."""
    factors, found = sample_factors(cfg, cfg.n_train + cfg.n_test)
    for factor, mixture in found.items():
        train = factors[factor][:cfg.n_train]
        mixture.centre, mixture.scale = train.mean(0), train.std(0)
    return found


def assemble(cfg: GaussianMixtureData, modality: str, factors: dict[str, np.ndarray]) -> np.ndarray:
    """A modality's vectors from its (standardised) factors, in concatenation order."""
    return np.concatenate([factors[f] for f in modality_factors(modality)], axis=1).astype(np.float32)


def generate(cfg: GaussianMixtureData) -> dict[str, np.ndarray]:
    """{"x1/train", "x1/test", "x1/val", ...}: modalities standardised per coordinate with training statistics."""
    factors, found = sample_factors(cfg, cfg.n_train + cfg.n_test)
    for factor, values in factors.items():
        train = values[:cfg.n_train]
        found[factor].centre, found[factor].scale = train.mean(0), train.std(0)
        factors[factor] = (values - found[factor].centre) / found[factor].scale
    out = {}
    for m in MODALITIES:
        x = assemble(cfg, m, factors)
        out[f"{m}/train"], out[f"{m}/test"] = x[:cfg.n_train], x[cfg.n_train:]
    return out | validation(cfg, found)


def validation(cfg: GaussianMixtureData, found: dict[str, Mixture]) -> dict[str, np.ndarray]:
    """{"x1/val", ...}: cfg.n_val fresh tuples of the true mixtures (standardised like the data), drawn from their
    own seed: independent of the training and test tuples."""
    rng = np.random.default_rng([cfg.seed, VALIDATION_SEED])
    factors = {factor: mixture.draw(cfg.n_val, rng) for factor, mixture in found.items()}
    return {f"{m}/val": assemble(cfg, m, factors) for m in MODALITIES}


def load(cfg: GaussianMixtureData, cache_dir: Path) -> dict[str, np.ndarray]:
    """Generated data, cached by a hash of the data config (deterministic given the seed)."""
    path = cache_dir / "gaussian_mixture" / f"{cfg.key()}.npz"
    if path.exists():
        with np.load(path) as f:
            return {k.replace("__", "/"): f[k] for k in f.files}
    data = generate(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")  # per process: parallel runs may race here
    np.savez(tmp, **{k.replace("/", "__"): v for k, v in data.items()})
    tmp.replace(path)
    return data
