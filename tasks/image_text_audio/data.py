"""Embedding-level image–text–audio data (paper §6.3, following FlowBind's setup; spec image_text_audio §3, §7):
three pairwise training sets (text–image, text–audio, image–audio), pairwise test sets and a triplet test set,
each modality an encoder's output vector. Two sources:

- "synthetic" (default, no downloads): independent factors — one shared by all three modalities, one per pair,
  one private per modality, each from its own random 64-component Gaussian mixture (App. D style) — pushed through
  fixed random linear maps to 768 (text), 768 (image) and 512 (audio) dimensions, plus noise. Pair types keep the
  proportions of the paper's data (272k : 91k : 184k) and disjoint samples; the triplets are drawn jointly. The
  factors are kept, so exact judges exist.
- "files": a user's own embeddings in `data.root` — meta.json naming the encoders, train_ti/ta/ia.npz,
  test_ti/ta/ia.npz and test_tia.npz, each an .npz of raw encoder outputs keyed by modality (N × d; d may differ
  per modality but not between files).

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
VERSION = 1  # bump when generation changes, so cached data made by older code is not reused


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
    noise: float = 0.1  # synthetic: std of the noise added to each embedding coordinate (the maps keep unit scale)
    n_train: int = 20_000  # synthetic: training pairs of all three types together, in the paper's proportions
    n_test: int = 2_000  # synthetic: test pairs per pair type
    n_triplets: int = 2_000  # synthetic: test triplets (the synthetic-triplet protocol's analogue)
    judge_fraction: float = 0.1  # share of each training pair set held out (never trained on) to fit the judges
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
                     "n_train", "n_test", "n_triplets"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not self.noise >= 0:
            raise ValueError(f"noise must be at least 0, not {self.noise}")
        if not 0.0 < self.judge_fraction < 0.5:
            raise ValueError(f"judge_fraction must lie in (0, 0.5), not {self.judge_fraction}")
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


class World:
    """The synthetic generator's fixed parts, drawn from the data seed: one Gaussian mixture per factor and one
    map per modality from its factors to its embedding. The oracle generator draws from them, and the exact factor
    errors invert the maps."""

    def __init__(self, cfg: ImageTextAudioData):
        self.cfg = cfg
        rng = np.random.default_rng(cfg.seed)
        self.mixtures = {f: (rng.uniform(-3, 3, (cfg.components, cfg.factor_dim(f))),
                             rng.uniform(0.1, 0.5, (cfg.components, cfg.factor_dim(f)))) for f in FACTORS}
        self.maps = {}
        for m in MODALITIES:  # fixed random linear maps, scaled to keep unit variance
            k = sum(cfg.factor_dim(f) for f in modality_factors(m))
            self.maps[m] = rng.standard_normal((k, cfg.dim(m))) / np.sqrt(k)
        self.rng = rng  # the samples of the data sets continue this stream
        self.unmix = {m: np.linalg.pinv(a) for m, a in self.maps.items()}

    def draw_factors(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out = {}
        for f, (means, stds) in self.mixtures.items():
            comp = rng.integers(self.cfg.components, size=n)
            out[f] = means[comp] + stds[comp] * rng.standard_normal((n, means.shape[1]))
        return out

    def embed(self, m: str, factors: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """Raw embeddings of modality m from its factors, with the data's noise."""
        f = np.concatenate([factors[name] for name in modality_factors(m)], axis=1)
        noise = self.cfg.noise * rng.standard_normal((len(f), self.cfg.dim(m)))
        return (f @ self.maps[m] + noise).astype(np.float32)

    def recover(self, m: str, raw: np.ndarray) -> dict[str, np.ndarray]:
        """The factors of modality m read back from raw embeddings (least squares through the map)."""
        f = np.asarray(raw, dtype=np.float64) @ self.unmix[m]
        bounds = np.cumsum([0] + [self.cfg.factor_dim(k) for k in modality_factors(m)])
        return {k: f[:, bounds[i]:bounds[i + 1]] for i, k in enumerate(modality_factors(m))}


def generate(cfg: ImageTextAudioData) -> dict[str, np.ndarray]:
    """{"<split>_<set>/<modality>": embeddings, "<split>_<set>/factor_<f>": factors}."""
    world = World(cfg)
    rng = world.rng
    out = {}
    sets = [(f"train_{p}", n, PAIRS[p]) for p, n in pair_sizes(cfg.n_train).items()]
    sets += [(f"test_{p}", cfg.n_test, PAIRS[p]) for p in PAIRS] + [(f"test_{TRIPLETS}", cfg.n_triplets, MODALITIES)]
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
    file is present with every modality; arrays are 2-d and non-empty, agree on rows within a file and on the
    dimension of a modality across files — and return the rows of each file. Raises EmbeddingFileError."""
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
    for stem, members in expected_files().items():
        path = root / f"{stem}.npz"
        if not path.is_file():
            raise EmbeddingFileError(f"{path} is missing (needed: {', '.join(f'{s}.npz' for s in expected_files())})")
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
        rows[stem] = counts[members[0]]
    if rows[f"test_{TRIPLETS}"] < 4:
        raise EmbeddingFileError(f"{root / f'test_{TRIPLETS}.npz'} needs at least 4 triplets (half of them are the "
                                 "real reference for co-generation)")
    return rows


def read_files(root: Path) -> dict[str, np.ndarray]:
    """A user's embedding files (checked by inspect_files), as float32; non-finite values are refused."""
    inspect_files(root)
    out = {}
    for stem, members in expected_files().items():
        with np.load(root / f"{stem}.npz") as f:
            for m in members:
                x = f[m]
                if not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all():
                    raise EmbeddingFileError(f"{root / f'{stem}.npz'}: '{m}' must hold finite floating-point values")
                out[f"{stem}/{m}"] = x.astype(np.float32)
    return out


def training_rows(cfg: ImageTextAudioData) -> int:
    """Training pairs of all types together, after the judges' share is held out (sources synthetic, files)."""
    if cfg.source == "synthetic":
        sizes = pair_sizes(cfg.n_train)
    else:
        rows = inspect_files(Path(cfg.root).expanduser())
        sizes = {p: rows[f"train_{p}"] for p in PAIRS}
    return sum(n - judge_rows(cfg, n) for n in sizes.values())


def judge_rows(cfg: ImageTextAudioData, n: int) -> int:
    """How many of a training set's n pairs are held out for the judges (its last rows)."""
    return max(2, round(cfg.judge_fraction * n))
