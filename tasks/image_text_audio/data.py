"""Embedding-level image–text–audio data (paper §6.3, following FlowBind's setup; spec image_text_audio §3, §7):
three pairwise training sets (text–image, text–audio, image–audio), pairwise test sets and a triplet test set, and
validation sets of the same kinds drawn apart from both, each modality an encoder's output vector. Sources:

- "synthetic" (default, no downloads): independent factors — one shared by all three modalities, one per pair,
  one private per modality, each from its own random 64-component Gaussian mixture (App. D style) — pushed through
  fixed random nonlinear, invertible maps (World) to unit-norm, anisotropic 768 (text), 768 (image) and 512 (audio)
  dimensional embeddings, plus noise. Pair types keep the
  proportions of the paper's data (272k : 91k : 184k) and disjoint samples; the triplets are drawn jointly. The
  factors are kept, so exact judges exist. Validation pairs (`n_val` per type) and triplets (as many as the test's,
  `n_triplets`) are fresh draws of the same world from their own seed (VALIDATION_SEED).
- "files": a user's own embeddings in `data.root` — meta.json naming the encoders, train_ti/ta/ia.npz,
  test_ti/ta/ia.npz and test_tia.npz, each an .npz of raw encoder outputs keyed by modality (N × d; d may differ
  per modality but not between files); optionally val_ti/ta/ia.npz and val_tia.npz. A pair type without its
  validation file holds out a seeded `val_fraction` of its training pairs instead (held_out); without val_tia.npz
  the validation set has no triplets (the suite then leaves 2→1 out of validation, see suite.py).
- "flowbind": FlowBind's released layout (flowbind_layout.py); validation pairs are held out of training as for
  "files", validation triplets come from an optional val_tia.npz beside feats/.

Every array is raw; the suite standardises each modality with statistics of its training rows."""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MODALITIES = ("text", "image", "audio")
PAIRS = {"ti": ("text", "image"), "ta": ("text", "audio"), "ia": ("image", "audio")}
TRIPLETS = "tia"
PAPER_PAIR_SIZES = {"ti": 272_000, "ta": 91_000, "ia": 184_000}  # LAION-COCO + Flickr30k, AudioCaps, VGGSound
FACTORS = ("all", "ti", "ta", "ia", "text", "image", "audio")  # shared by all, pair-shared, private
SOURCES = ("synthetic", "files", "flowbind")
VERSION = 3  # bump when generation changes, so cached data made by older code is not reused (2: nonlinear maps,
# 3: validation sets)
VALIDATION_SEED = 5_000_011  # synthetic validation draws, and which training rows files hold out: draws of their own
MIN_TRIPLETS = 4  # a triplet set's halves: the evaluated tuples and the real reference for co-generation


class EmbeddingFileError(ValueError):
    """A user's embedding files are missing, misnamed or malformed; the message names the file."""


@dataclass
class ImageTextAudioData:
    source: str = "synthetic"  # synthetic | files | flowbind (FlowBind's released feats/ layout)
    root: str = ""  # source=files: the directory with meta.json and the .npz files; flowbind: the one holding feats/
    text_dim: int = 768  # synthetic: EmbeddingGemma's width
    image_dim: int = 768  # synthetic: CLIP ViT-L/14's width
    audio_dim: int = 512  # synthetic: LAION-CLAP's width
    d_all: int = 16  # synthetic factor dimensions: shared by all three, per pair, private per modality
    d_pair: int = 16
    d_priv: int = 32
    components: int = 64  # mixture components per factor (App. D)
    noise: float = 0.1  # synthetic: norm of the noise added to each unit-norm embedding (then normalised again)
    n_train: int = 20_000  # synthetic: training pairs of all three types together, in the paper's proportions
    n_test: int = 2_000  # synthetic: test pairs per pair type
    n_triplets: int = 2_000  # synthetic: test triplets (the synthetic-triplet protocol's analogue), and as many
    # validation triplets
    n_val: int = 2_000  # synthetic: validation pairs per pair type, fresh draws from their own seed
    n_judge: int = 2000  # synthetic: real pairs per pair type, drawn apart from training, that fit the judges
    judge_fraction: float = 0.1  # files, flowbind: share of each training pair set held out to fit the judges
    val_fraction: float = 0.1  # files (a pair type without val_<pair>.npz), flowbind: share of each training pair
    # set held out (seeded, apart from the judges' rows) for validation
    seed: int = 2026

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not '{self.source}'")
        if self.source != "synthetic":
            if not self.root:
                raise ValueError(f"source={self.source} needs data.root, the directory holding "
                                 + ("meta.json and the .npz files" if self.source == "files" else "feats/"))
            if not Path(self.root).expanduser().is_dir():
                raise ValueError(f"data.root {self.root} is not a directory")
            if self.source == "files":
                inspect_files(Path(self.root).expanduser())
        for name in ("text_dim", "image_dim", "audio_dim", "d_all", "d_pair", "d_priv", "components",
                     "n_train", "n_test", "n_triplets", "n_val", "n_judge"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not self.noise >= 0:
            raise ValueError(f"noise must be at least 0, not {self.noise}")
        if not 0.0 < self.judge_fraction < 0.5:
            raise ValueError(f"judge_fraction must lie in (0, 0.5), not {self.judge_fraction}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must lie in (0, 0.5), not {self.val_fraction}")
        if self.seed < 0:
            raise ValueError(f"seed must be at least 0, not {self.seed}")

    def key(self) -> str:
        fields = asdict(self) | {"version": VERSION}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    def dim(self, modality: str) -> int:
        return getattr(self, f"{modality}_dim")

    def factor_dim(self, factor: str) -> int:
        return self.d_all if factor == "all" else self.d_pair if factor in PAIRS else self.d_priv


def modality_factors(modality: str) -> list[str]:
    """The factors a modality observes, in order: text = [all, ti, ta, text]."""
    return ["all", *(p for p, members in PAIRS.items() if modality in members), modality]


def shared_factors(a: str, b: str) -> list[str]:
    """Factors two modalities share: the one shared by all and their pair's."""
    return [f for f in modality_factors(a) if f in modality_factors(b)]


def pair_sizes(total: int) -> dict[str, int]:
    """Training pairs per type in the paper's proportions."""
    whole = sum(PAPER_PAIR_SIZES.values())
    return {p: max(1, round(total * size / whole)) for p, size in PAPER_PAIR_SIZES.items()}


# The synthetic maps (VERSION 2). Constants chosen by measurement (the study is summarised in notes.md): ridge
# regression from one embedding to another falls clearly below a perfect conditional sampler, a 256-wide MLP does not,
# and the factors stay exactly recoverable.
COUPLINGS = 3  # coupling layers per factor block
SHIFT = 2.0  # std of the per-component shifts: each mixture cluster is moved to a random new place
SCALE = 0.3  # bound of the per-component log-scales
WIDTH = 0.3  # width of the soft assignment of a point to its factor's mixture components
GAMMA = 0.25  # power law of the per-direction scales (anisotropy)
CONE = 1.0  # norm of the constant offset over the norm of the signal: the embeddings sit in a cone
CALIBRATION = 8000  # draws that fit each block's whitening
FACTOR_SCALE = 1 / np.sqrt(3.1)  # a factor coordinate's std is about sqrt(3 + 0.1): means ~ U[-3, 3], stds ≤ 0.5
INVERSE_FLOOR = 0.05  # the offset component of an off-cone vector is read as at least this share of its norm


def orthogonal(rng: np.random.Generator, n: int, k: int | None = None) -> np.ndarray:
    """A random (n, k) matrix with orthonormal columns (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((n, k or n)))
    return q * np.sign(np.diag(r))


@dataclass
class Coupling:
    rotation: np.ndarray  # (d, d)
    half: int  # the first `half` coordinates condition, the others move
    centres: np.ndarray  # (components, half): where the mixture's components sit in the conditioning half
    log_scales: np.ndarray  # (components, d - half)
    shifts: np.ndarray  # (components, d - half)

    def scale_shift(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The log-scale and shift of every row: the components' own, weighted by a soft assignment of the
        conditioning half to the components."""
        distance = (a ** 2).sum(1, keepdims=True) - 2 * a @ self.centres.T + (self.centres ** 2).sum(1)
        logit = -distance / (2 * WIDTH ** 2)
        weights = np.exp(logit - logit.max(1, keepdims=True))
        weights /= weights.sum(1, keepdims=True)
        return weights @ self.log_scales, weights @ self.shifts

    def forward(self, w: np.ndarray) -> np.ndarray:
        w = w @ self.rotation
        a, b = w[:, :self.half], w[:, self.half:]
        s, t = self.scale_shift(a)
        return np.concatenate([a, b * np.exp(s) + t], 1)

    def inverse(self, w: np.ndarray) -> np.ndarray:
        a, b = w[:, :self.half], w[:, self.half:]
        s, t = self.scale_shift(a)  # the conditioning half passed through unchanged
        return np.concatenate([a, (b - t) * np.exp(-s)], 1) @ self.rotation.T


class World:
    """The synthetic generator's fixed parts, drawn from the data seed: one Gaussian mixture per factor and one
    nonlinear, exactly invertible map per modality from its factors to its embedding. Per factor block, affine
    couplings (rotate; split into a | b; b ← b·exp(s(a)) + t(a), with s and t the per-component scales and shifts
    of the mixture component a sits in) move each mixture cluster to a random new place; the blocks are whitened,
    mixed by a random rotation, lifted to the embedding width on orthonormal directions with power-law scales (an
    anisotropic spread), offset along one more direction (a cone, as CLIP and CLAP embeddings sit in), normalised to
    unit norm, noised (noise of norm `noise`) and normalised again. The oracle generator draws from it; the exact
    factor errors invert it (norm from the offset, least squares through the lift, couplings backwards)."""

    def __init__(self, cfg: ImageTextAudioData):
        self.cfg = cfg
        rng = self.rng = np.random.default_rng(cfg.seed)  # the samples of the data sets continue this stream
        self.mixtures = {f: (rng.uniform(-3, 3, (cfg.components, cfg.factor_dim(f))),
                             rng.uniform(0.1, 0.5, (cfg.components, cfg.factor_dim(f)))) for f in FACTORS}
        self.maps = {m: self.draw_map(m, rng) for m in MODALITIES}

    def draw_map(self, m: str, rng: np.random.Generator) -> dict:
        names = modality_factors(m)
        k = sum(self.cfg.factor_dim(f) for f in names)
        blocks = []
        for f in names:
            d = self.cfg.factor_dim(f)
            half, centres, layers = d // 2, self.mixtures[f][0] * FACTOR_SCALE, []
            for _ in range(COUPLINGS):
                layer = Coupling(orthogonal(rng, d), half, np.empty(0),
                                 SCALE * np.tanh(rng.standard_normal((self.cfg.components, d - half))),
                                 SHIFT * rng.standard_normal((self.cfg.components, d - half)))
                centres = centres @ layer.rotation  # the component means, pushed through the layers so far
                layer.centres = centres[:, :half].copy()
                centres = np.concatenate([centres[:, :half], centres[:, half:] * np.exp(layer.log_scales)
                                          + layer.shifts], 1)
                layers.append(layer)
            blocks.append(layers)
        basis, sigma = orthogonal(rng, self.cfg.dim(m), k + 1), np.arange(1, k + 1) ** -GAMMA
        spec = {"blocks": blocks, "bounds": np.cumsum([0] + [self.cfg.factor_dim(f) for f in names]),
                "mix": orthogonal(rng, k), "lift": basis[:, :k], "offset": basis[:, k],
                "sigma": sigma / np.sqrt((sigma ** 2).mean()), "beta": CONE * np.sqrt(k),
                "centre": np.zeros(k), "whiten": np.eye(k), "colour": np.eye(k)}
        coupled = self.couple(spec, np.concatenate([v for f, v in self.draw_factors(CALIBRATION, rng).items()
                                                    if f in names], 1))
        for start, stop in zip(spec["bounds"][:-1], spec["bounds"][1:]):
            values, vectors = np.linalg.eigh(np.cov(coupled[:, start:stop], rowvar=False))
            spec["centre"][start:stop] = coupled[:, start:stop].mean(0)
            spec["whiten"][start:stop, start:stop] = (vectors / np.sqrt(values)) @ vectors.T
            spec["colour"][start:stop, start:stop] = (vectors * np.sqrt(values)) @ vectors.T
        return spec

    @staticmethod
    def couple(spec: dict, z: np.ndarray, inverse: bool = False) -> np.ndarray:
        out = []
        for layers, start, stop in zip(spec["blocks"], spec["bounds"][:-1], spec["bounds"][1:]):
            w = z[:, start:stop] if inverse else z[:, start:stop] * FACTOR_SCALE
            for layer in reversed(layers) if inverse else layers:
                w = layer.inverse(w) if inverse else layer.forward(w)
            out.append(w / FACTOR_SCALE if inverse else w)
        return np.concatenate(out, 1)

    def draw_factors(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out = {}
        for f, (means, stds) in self.mixtures.items():
            comp = rng.integers(self.cfg.components, size=n)
            out[f] = means[comp] + stds[comp] * rng.standard_normal((n, means.shape[1]))
        return out

    def embed(self, m: str, factors: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """Raw embeddings of modality m from its factors, with the data's noise."""
        spec = self.maps[m]
        z = np.concatenate([factors[f] for f in modality_factors(m)], axis=1)
        u = ((self.couple(spec, z) - spec["centre"]) @ spec["whiten"]) @ spec["mix"]
        x = (u * spec["sigma"]) @ spec["lift"].T + spec["beta"] * spec["offset"]
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x += self.cfg.noise / np.sqrt(self.cfg.dim(m)) * rng.standard_normal(x.shape)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def recover(self, m: str, raw: np.ndarray) -> dict[str, np.ndarray]:
        """The factors of modality m read back from raw embeddings of any scale (generated ones too)."""
        spec, x = self.maps[m], np.asarray(raw, dtype=np.float64)
        c = np.maximum(x @ spec["offset"], INVERSE_FLOOR * np.linalg.norm(x, axis=1))  # β / |x before normalising|
        u = (x @ spec["lift"]) / spec["sigma"] * (spec["beta"] / c)[:, None]
        z = self.couple(spec, (u @ spec["mix"].T) @ spec["colour"] + spec["centre"], inverse=True)
        return {k: z[:, spec["bounds"][i]:spec["bounds"][i + 1]] for i, k in enumerate(modality_factors(m))}


def generate(cfg: ImageTextAudioData) -> dict[str, np.ndarray]:
    """{"<split>_<set>/<modality>": embeddings, "<split>_<set>/factor_<f>": factors}; split: train, test, judge
    and val (drawn last, from their own seed, so the other sets are those of the same config without them)."""
    world = World(cfg)
    sets = [(f"train_{p}", n, PAIRS[p]) for p, n in pair_sizes(cfg.n_train).items()]
    sets += [(f"test_{p}", cfg.n_test, PAIRS[p]) for p in PAIRS] + [(f"test_{TRIPLETS}", cfg.n_triplets, MODALITIES)]
    sets += [(f"judge_{p}", cfg.n_judge, PAIRS[p]) for p in PAIRS]
    validation = [(f"val_{p}", cfg.n_val, PAIRS[p]) for p in PAIRS] + [(f"val_{TRIPLETS}", cfg.n_triplets, MODALITIES)]
    return draw_sets(world, sets, world.rng) | draw_sets(world, validation,
                                                         np.random.default_rng([cfg.seed, VALIDATION_SEED]))


def draw_sets(world: World, sets: list[tuple[str, int, tuple[str, ...]]], rng: np.random.Generator
              ) -> dict[str, np.ndarray]:
    """Each (name, n, modalities) set: n fresh samples of the world, their embeddings and factors."""
    out = {}
    for name, n, members in sets:
        factors = world.draw_factors(n, rng)
        out.update({f"{name}/{m}": world.embed(m, factors, rng) for m in members})
        out.update({f"{name}/factor_{f}": v.astype(np.float32) for f, v in factors.items()})
    return out


def load(cfg: ImageTextAudioData, cache_dir: Path) -> dict[str, np.ndarray]:
    """The arrays of source synthetic (generated, cached by a hash of the config) or files (read and checked);
    source flowbind is read by flowbind_layout.py."""
    if cfg.source == "files":
        return read_files(Path(cfg.root).expanduser())

    path = cache_dir / "image_text_audio" / f"{cfg.key()}.npz"
    if path.exists():
        with np.load(path) as f:
            return {k.replace("__", "/"): f[k] for k in f.files}
    data = generate(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")  # per process: parallel runs may race here
    np.savez(tmp, **{k.replace("/", "__"): v for k, v in data.items()})
    tmp.replace(path)
    return data


def expected_files() -> dict[str, tuple[str, ...]]:
    """File stem -> the modalities it must hold."""
    files = {f"{split}_{p}": members for split in ("train", "test") for p, members in PAIRS.items()}
    return files | {f"test_{TRIPLETS}": MODALITIES}


def validation_files() -> dict[str, tuple[str, ...]]:
    """The optional files' stems -> the modalities each must hold where it is given."""
    return {f"val_{p}": members for p, members in PAIRS.items()} | {f"val_{TRIPLETS}": MODALITIES}


def given_files(root: Path) -> dict[str, tuple[str, ...]]:
    """The expected files and the validation files present in root."""
    return expected_files() | {stem: members for stem, members in validation_files().items()
                               if (root / f"{stem}.npz").is_file()}


def array_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shape of every array in an .npz file, read from the headers only."""
    shapes = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shapes[name.removesuffix(".npy")] = read(f)[0]
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        raise EmbeddingFileError(f"{path} is not a readable .npz file ({type(err).__name__}: {err})") from None
    return shapes


def inspect_files(root: Path) -> dict[str, int]:
    """Check a user's embedding files without loading them — meta.json names an encoder per modality; every
    expected file is present, and every file given (the validation files are optional) holds every modality; arrays
    are 2-d and non-empty, agree on rows within a file and on the dimension of a modality across files — and return
    the rows of each file. Raises EmbeddingFileError."""
    meta = root / "meta.json"
    if not meta.is_file():
        raise EmbeddingFileError(f"{meta} is missing: it names the encoder of each modality, e.g. "
                                 '{"encoders": {"text": "embeddinggemma-300m", "image": "clip-vit-l14", ...}}')
    try:
        encoders = json.loads(meta.read_text())["encoders"]
        missing = [m for m in MODALITIES if m not in encoders]
    except (ValueError, KeyError, TypeError) as err:
        raise EmbeddingFileError(f"{meta} must be JSON with an 'encoders' object "
                                 f"({type(err).__name__}: {err})") from None
    if missing:
        raise EmbeddingFileError(f"{meta} names no encoder for {', '.join(missing)}")
    rows: dict[str, int] = {}
    dims: dict[str, tuple[int, str]] = {}
    for stem, members in given_files(root).items():
        path = root / f"{stem}.npz"
        if not path.is_file():
            raise EmbeddingFileError(f"{path} is missing (needed: {', '.join(f'{s}.npz' for s in expected_files())})")
        rows[stem] = set_rows(path, members, dims)
    return rows


def set_rows(path: Path, members: tuple[str, ...], dims: dict[str, tuple[int, str]]) -> int:
    """The rows of one set's file, checked from its headers: every modality a non-empty 2-d array, all with as many
    rows, each as wide as in the files seen before (dims, filled here); a triplet set has at least MIN_TRIPLETS."""
    shapes = array_shapes(path)
    for m in members:
        if m not in shapes:
            raise EmbeddingFileError(f"{path} has no array '{m}' (it holds: {', '.join(sorted(shapes))})")
        shape = shapes[m]
        if len(shape) != 2 or shape[0] == 0:
            raise EmbeddingFileError(f"{path}: '{m}' must be a non-empty 2-d array (rows × dim), not {shape}")
        if m in dims and dims[m][0] != shape[1]:
            raise EmbeddingFileError(f"{path}: '{m}' is {shape[1]}-d but {dims[m][1]} has it {dims[m][0]}-d")
        dims.setdefault(m, (shape[1], path.name))
    counts = {m: shapes[m][0] for m in members}
    if len(set(counts.values())) > 1:
        raise EmbeddingFileError(f"{path}: the modalities disagree on the number of rows: {counts}")
    if len(members) == len(MODALITIES) and counts[members[0]] < MIN_TRIPLETS:
        raise EmbeddingFileError(f"{path} needs at least {MIN_TRIPLETS} triplets (half of them are the real reference "
                                 "for co-generation)")
    return counts[members[0]]


def read_files(root: Path) -> dict[str, np.ndarray]:
    """A user's embedding files (checked by inspect_files), as float32; non-finite values are refused."""
    inspect_files(root)
    out = {}
    for stem, members in given_files(root).items():
        with np.load(root / f"{stem}.npz") as f:
            for m in members:
                x = f[m]
                if not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all():
                    raise EmbeddingFileError(f"{root / f'{stem}.npz'}: '{m}' must hold finite floating-point values")
                out[f"{stem}/{m}"] = x.astype(np.float32)
    return out


def training_rows(cfg: ImageTextAudioData) -> int:
    """Training pairs of all types together (sources synthetic, files); a user's files lose the judges' share and,
    where a pair type has no validation file, the validation share."""
    if cfg.source == "synthetic":
        return sum(pair_sizes(cfg.n_train).values())
    rows = inspect_files(Path(cfg.root).expanduser())
    return sum(kept_rows(cfg, rows[f"train_{p}"], p, f"val_{p}" not in rows) for p in PAIRS)


def judge_rows(cfg: ImageTextAudioData, n: int) -> int:
    """How many of a training set's n pairs are held out for the judges (its last rows)."""
    return max(2, round(cfg.judge_fraction * n))


def validation_share(cfg: ImageTextAudioData, n: int) -> int:
    """How many of a training set's n pairs are held out for validation where no validation file is given."""
    return max(2, round(cfg.val_fraction * n))


def kept_rows(cfg: ImageTextAudioData, n: int, pair: str, validation: bool) -> int:
    """How many of a training set's n pairs stay for training once the judges' (and, validation=True, the
    validation) share is held out; EmbeddingFileError where none would."""
    judges, held = judge_rows(cfg, n), validation_share(cfg, n) if validation else 0
    if n - judges - held < 1:
        raise EmbeddingFileError(f"the {'–'.join(PAIRS[pair])} training set has {n} pairs: too few to hold out "
                                 f"{judges} for the judges{f' and {held} for validation' if held else ''} and train "
                                 "on the rest")
    return n - judges - held


def held_out(cfg: ImageTextAudioData, n: int, pair: str, validation: bool) -> dict[str, np.ndarray]:
    """{"train", "val", "judge"}: row indices of a training set of n pairs (sources files, flowbind). The judges take
    its last rows; validation (validation=True: no validation file for the pair type) a seeded share of the others,
    spread over the set as the training rows are; training the rest."""
    kept = kept_rows(cfg, n, pair, validation)
    cut = n - judge_rows(cfg, n)
    chosen = np.zeros(cut, dtype=bool)
    rng = np.random.default_rng([cfg.seed, VALIDATION_SEED, list(PAIRS).index(pair)])
    chosen[rng.choice(cut, cut - kept, replace=False)] = True
    return {"train": np.flatnonzero(~chosen), "val": np.flatnonzero(chosen), "judge": np.arange(cut, n)}
