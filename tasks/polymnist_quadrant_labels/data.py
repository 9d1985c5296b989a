"""PolyMNIST-Quadrant-Labels (paper §6.2; spec 5.1-5.3): three RGB images of one digit, each in its own
handwriting and on its own natural background, with the digit pasted into one quadrant shared by the three,
plus the digit label and the quadrant label. Training, validation and test tuples are built from disjoint digits:
the source's test digits give the test tuples, a seeded share of each class of its training digits the validation
tuples, and the rest of the training digits the training tuples. Deterministic from the seed and cached on disk."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGES = ("m1", "m2", "m3")
LABELS = {"digit": 10, "quadrant": 4}
SOURCES = ("sklearn_digits", "mnist")
# IDMVAE's quadrant labels: (row, col) of the quadrant -> label (spec 5.2)
QUADRANT_OFFSETS = {0: (0, 1), 1: (0, 0), 2: (1, 0), 3: (1, 1)}
QUADRANT_NAMES = ("top-right", "top-left", "bottom-left", "bottom-right")
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VERSION = 3  # bump when generation changes, so cached data made by older code is not reused (3: validation split)
VALIDATION_SEED = 5_000_011  # which training digits are held out for validation: a draw of its own
SPLIT_IDS = {"train": 0, "test": 1, "val": 2}  # each split's tuples draw from seeds [seed, split id, pass]


class DataSourceError(ValueError):
    """A digit or background source is missing or malformed; the message names the file."""


@dataclass
class PolyMnistQuadrantLabelsData:
    source: str = "sklearn_digits"  # sklearn_digits (ships with scikit-learn) | mnist (IDX files in mnist_dir)
    mnist_dir: str = ""  # directory holding the four MNIST IDX files, gzipped or not (source=mnist)
    background_dir: str = ""  # directory with at least three images; empty: photos shipped with the packages
    canvas: int = 64  # image side (IDMVAE: 64)
    digit_size: int = 32  # side of the resized digit (IDMVAE: 32, one quadrant)
    inversion: str = "auto"  # binary: invert the background where the digit > mask_threshold (IDMVAE); soft: in
    # proportion to the digit's intensity (8×8 sklearn digits need their gray levels); auto: binary for mnist
    mask_threshold: int = 16  # binary inversion: digit pixels are those above this (0-255) on the canvas (IDMVAE)
    n_train: int = 60_000  # training tuples; the source's training digits are re-paired as often as needed
    n_test: int = 10_000  # held-out tuples, from the source's test digits only
    n_val: int = 2000  # validation tuples, from the held-out training digits only (val_fraction)
    test_fraction: float = 0.25  # sklearn_digits: share of each class held out for test tuples
    val_fraction: float = 0.1  # share of each class of the source's training digits held out (seeded) for the
    # validation tuples: digits that neither training nor the verifier ever sees
    seed: int = 123  # generator seed (IDMVAE: 123)
    verifier_steps: int = 3000  # training steps of the frozen verifier
    verifier_min_accuracy: float = 0.97  # results are not reported below this held-out accuracy (either head)

    def __post_init__(self):
        if self.inversion not in ("auto", "binary", "soft"):
            raise ValueError(f"inversion must be one of auto, binary, soft, not '{self.inversion}'")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not '{self.source}'")
        if self.source == "mnist" and not self.mnist_dir:
            raise ValueError("source=mnist needs data.mnist_dir, the directory with the MNIST IDX files")
        if self.source == "mnist":  # the files themselves are checked when read; their absence is caught here
            for stems in MNIST_FILES.values():
                for stem in stems:
                    find_mnist_file(Path(self.mnist_dir).expanduser(), stem)
        if self.background_dir and not Path(self.background_dir).expanduser().is_dir():
            raise ValueError(f"background_dir {self.background_dir} is not a directory")
        if self.canvas < 8 or self.canvas & (self.canvas - 1):
            raise ValueError(f"canvas must be a power of two of at least 8, not {self.canvas}")
        if not 4 <= self.digit_size <= self.canvas // 2:
            raise ValueError(f"digit_size must lie in [4, canvas/2 = {self.canvas // 2}], not {self.digit_size}")
        for name in ("n_train", "n_test", "n_val", "verifier_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"seed must be at least 0, not {self.seed}")
        if not 0 <= self.mask_threshold <= 255:
            raise ValueError(f"mask_threshold must lie in [0, 255], not {self.mask_threshold}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must lie in (0, 1), not {self.test_fraction}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), not {self.val_fraction}")
        if not 0.0 <= self.verifier_min_accuracy <= 1.0:
            raise ValueError(f"verifier_min_accuracy must lie in [0, 1], not {self.verifier_min_accuracy}")

    @property
    def resolved_inversion(self) -> str:
        if self.inversion != "auto":
            return self.inversion
        return "binary" if self.source == "mnist" else "soft"

    def key(self) -> str:
        """Hash of what determines the images and labels (the verifier settings do not)."""
        fields = {k: v for k, v in asdict(self).items() if not k.startswith("verifier_")} | {"version": VERSION}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


# --- digit sources -------------------------------------------------------------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (the MNIST format), gzipped when its name ends in .gz."""
    try:
        raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    except (OSError, EOFError) as err:
        raise DataSourceError(f"cannot read MNIST file {path}: {err}") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DataSourceError(f"{path} is not an IDX file of unsigned bytes (bad magic number {raw[:4].hex()}); "
                              f"use the original MNIST files")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4) if len(raw) >= 4 + 4 * ndim else np.zeros(0)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(dims) != ndim or len(raw) != expected:
        raise DataSourceError(f"{path} is truncated or padded: {len(raw)} bytes where its header says {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_mnist_file(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).exists():
            return directory / name
    raise DataSourceError(f"MNIST file {directory / stem}[.gz] not found; put the four MNIST IDX files in "
                          f"data.mnist_dir or use data.source=sklearn_digits")


def load_mnist(directory: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (images (N, 28, 28) uint8, labels (N,)), "test": ...} from the standard MNIST IDX files."""
    out = {}
    for split, (image_stem, label_stem) in MNIST_FILES.items():
        image_path, label_path = find_mnist_file(directory, image_stem), find_mnist_file(directory, label_stem)
        images, labels = read_idx(image_path), read_idx(label_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataSourceError(f"{image_path} and {label_path} do not hold matching images (N, H, W) and "
                                  f"labels (N,): shapes {images.shape} and {labels.shape}")
        if labels.max(initial=0) > 9:
            raise DataSourceError(f"{label_path} has labels above 9; it is not an MNIST label file")
        out[split] = (images, labels.astype(np.int64))
    return out


def load_sklearn_digits(test_fraction: float, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's 1797 handwritten 8×8 digits (0-16) as 0-255 images, split per class with the seed."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng([seed, 0])
    test = np.zeros(len(labels), dtype=bool)
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(labels == d))
        test[idx[:round(len(idx) * test_fraction)]] = True
    return {"train": (images[~test], labels[~test]), "test": (images[test], labels[test])}


def load_digit_source(cfg: PolyMnistQuadrantLabelsData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if cfg.source == "mnist":
        return load_mnist(Path(cfg.mnist_dir).expanduser())
    return load_sklearn_digits(cfg.test_fraction, cfg.seed)


def held_out_for_validation(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """(N,) bool: a seeded `fraction` of each class of the source's training digits, held out for validation.
    Every class keeps at least three digits on each side (a tuple shows three different ones)."""
    rng = np.random.default_rng([seed, VALIDATION_SEED])
    held = np.zeros(len(labels), dtype=bool)
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(labels == d))
        k = round(len(idx) * fraction)
        if min(k, len(idx) - k) < len(IMAGES):
            raise DataSourceError(f"digit {d} has {len(idx)} training images: holding out data.val_fraction="
                                  f"{fraction} of them leaves {k} for validation and {len(idx) - k} for training; "
                                  f"each needs at least {len(IMAGES)}")
        held[idx[:k]] = True
    return held


def digit_splits(cfg: PolyMnistQuadrantLabelsData, source: dict[str, tuple[np.ndarray, np.ndarray]]
                 ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{"train" | "val" | "test": (images, labels, index)}: index is each digit's position in the source's own split
    (training and validation digits both index the source's training digits, so they can be compared)."""
    images, labels = source["train"]
    held = held_out_for_validation(labels, cfg.val_fraction, cfg.seed)
    out = {}
    for split, index in (("train", np.flatnonzero(~held)), ("val", np.flatnonzero(held))):
        out[split] = images[index], labels[index], index
    images, labels = source["test"]
    out["test"] = images, labels, np.arange(len(labels))
    return out


# --- backgrounds ---------------------------------------------------------------------------------------------

def shipped_background_paths() -> list[Path]:
    """Three natural photographs that ship inside installed wheels: scikit-learn's two sample images and
    matplotlib's Grace Hopper portrait (the original PolyMNIST backgrounds are not available offline)."""
    import matplotlib.cbook
    import sklearn.datasets

    sk = Path(sklearn.datasets.__file__).parent / "images"
    return [sk / "china.jpg", sk / "flower.jpg", Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg",
                                                                                       asfileobj=False))]


def background_names(cfg: PolyMnistQuadrantLabelsData) -> list[str]:
    """The backgrounds as records name them, with no path of the machine: the package that ships each photo, or
    data.background_dir as the user gave it."""
    if cfg.background_dir:
        return [f"{cfg.background_dir.rstrip('/')}/{p.name}" for p in background_paths(cfg)]
    return ["scikit-learn: datasets/images/china.jpg", "scikit-learn: datasets/images/flower.jpg",
            "matplotlib: sample_data/grace_hopper.jpg"]


def background_paths(cfg: PolyMnistQuadrantLabelsData) -> list[Path]:
    if not cfg.background_dir:
        return shipped_background_paths()
    directory = Path(cfg.background_dir).expanduser()
    found = sorted(p for p in directory.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(found) < len(IMAGES):
        raise DataSourceError(f"data.background_dir {directory} has {len(found)} images "
                              f"({', '.join(IMAGE_SUFFIXES)}); it needs at least {len(IMAGES)}")
    return found[:len(IMAGES)]


def load_background(path: Path, canvas: int) -> np.ndarray:
    """(H, W, 3) uint8, resized so its shorter side is 8 canvases: a crop then covers the same share of the
    photo at every canvas size (at 64 it is about the photo's own size, as in PolyMNIST)."""
    try:
        image = Image.open(path).convert("RGB")
    except OSError as err:
        raise DataSourceError(f"cannot read background image {path}: {err}") from None
    scale = 8 * canvas / min(image.size)
    image = image.resize((max(canvas, round(image.width * scale)), max(canvas, round(image.height * scale))),
                         Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


# --- generation ----------------------------------------------------------------------------------------------

def resize_digits(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, h, w) uint8 digits to (N, size, size) (IDMVAE resizes 28 -> 32 bilinearly)."""
    x = torch.from_numpy(np.array(images, dtype=np.float32))[:, None]
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()


def pair_handwriting(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One pass of PolyMNIST pairing: for every digit class a random order of its images; image modality k
    reads that order shifted by k·⌊n/3⌋, so the three images of a tuple always show different handwriting.
    Returns (source indices (n, 3), digit labels (n,)) in shuffled tuple order."""
    sources, digits = [], []
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(labels == d))
        if len(idx) < len(IMAGES):
            raise DataSourceError(f"digit {d} has {len(idx)} source images; pairing needs at least {len(IMAGES)}")
        shift = len(idx) // len(IMAGES)
        sources.append(np.stack([np.roll(idx, -k * shift) for k in range(len(IMAGES))], axis=1))
        digits.append(np.full(len(idx), d, dtype=np.int64))
    order = rng.permutation(sum(len(d) for d in digits))
    return np.concatenate(sources)[order], np.concatenate(digits)[order]


def compose(cfg: PolyMnistQuadrantLabelsData, digits: np.ndarray, quadrant: np.ndarray, background: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """(n, 3, canvas, canvas) uint8: each resized digit pasted in its quadrant of a black canvas, and a random
    crop of the background inverted where the digit is (IDMVAE views 1-3), or in proportion to its intensity."""
    canvas = cfg.canvas
    n, size = len(digits), digits.shape[-1]
    half = canvas // 2
    rows = np.array([QUADRANT_OFFSETS[int(q)][0] for q in range(4)])[quadrant] * half + (half - size) // 2
    cols = np.array([QUADRANT_OFFSETS[int(q)][1] for q in range(4)])[quadrant] * half + (half - size) // 2
    ar = np.arange(size)
    weight = np.zeros((n, canvas, canvas), dtype=np.float32)
    weight[np.arange(n)[:, None, None], rows[:, None, None] + ar[None, :, None],
           cols[:, None, None] + ar[None, None, :]] = (digits > cfg.mask_threshold if cfg.resolved_inversion == "binary"
                                                       else digits / 255.0)
    y0 = rng.integers(0, background.shape[0] - canvas + 1, size=n)
    x0 = rng.integers(0, background.shape[1] - canvas + 1, size=n)
    ac = np.arange(canvas)
    crops = background[y0[:, None, None] + ac[None, :, None], x0[:, None, None] + ac[None, None, :]]
    images = crops + weight[..., None] * (255.0 - 2.0 * crops)  # (1 - w)·crop + w·(255 - crop)
    return np.ascontiguousarray(np.round(images).astype(np.uint8).transpose(0, 3, 1, 2))


def make_split(cfg: PolyMnistQuadrantLabelsData, images: np.ndarray, labels: np.ndarray,
               backgrounds: list[np.ndarray], n: int, split: int) -> dict[str, np.ndarray]:
    """n tuples from one split's digits: passes of fresh pairings (seeds [seed, split, pass]) until n."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (*IMAGES, *LABELS, "source")}
    done, repetition = 0, 0
    while done < n:
        rng = np.random.default_rng([cfg.seed, split, repetition])
        sources, digits = pair_handwriting(labels, rng)
        take = min(n - done, len(digits))
        sources, digits = sources[:take], digits[:take]
        quadrant = rng.integers(0, 4, size=take)  # one quadrant per tuple, shared by its images (spec 5.3)
        for k, name in enumerate(IMAGES):
            parts[name].append(compose(cfg, images[sources[:, k]], quadrant, backgrounds[k], rng))
        parts["digit"].append(digits)
        parts["quadrant"].append(quadrant.astype(np.int64))
        parts["source"].append(sources)
        done, repetition = done + take, repetition + 1
    return {k: np.concatenate(v) for k, v in parts.items()}


def generate(cfg: PolyMnistQuadrantLabelsData) -> dict[str, np.ndarray]:
    """{"m1/train": (n, 3, C, C) uint8, ..., "digit/train": (n,) int64, "quadrant/train", "source/train":
    (n, 3) indices of each image's source digit within the source's split (digit_splits), and the same for "/val"
    and "/test"}."""
    splits = digit_splits(cfg, load_digit_source(cfg))
    backgrounds = [load_background(p, cfg.canvas) for p in background_paths(cfg)]
    out = {}
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test), ("val", cfg.n_val)):
        images, labels, index = splits[split]
        made = make_split(cfg, resize_digits(images, cfg.digit_size), labels, backgrounds, n, SPLIT_IDS[split])
        made["source"] = index[made["source"]]
        out.update({f"{key}/{split}": value for key, value in made.items()})
    return out


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, H, W) in [0, 255] -> float in [-1, 1], the range every model and the verifier see."""
    return torch.as_tensor(images).float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generated float images -> uint8, clamped to the data range (as if saved as PNG)."""
    return ((images.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()[:16]


def load(cfg: PolyMnistQuadrantLabelsData, cache_dir: Path) -> tuple[dict[str, np.ndarray], str]:
    """(arrays, content hash): generated once per data config and cached; a cache file whose content no
    longer matches its recorded hash is regenerated."""
    path = cache_dir / "polymnist_quadrant_labels" / f"{cfg.key()}.npz"
    if path.exists():
        with np.load(path) as f:
            arrays = {k.replace("__", "/"): f[k] for k in f.files if k != "content_hash"}
            recorded = str(f["content_hash"]) if "content_hash" in f.files else ""
        if recorded == content_hash(arrays):
            return arrays, recorded
    arrays = generate(cfg)
    digest = content_hash(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")  # per process: parallel cells may race here
    np.savez(tmp, content_hash=np.array(digest), **{k.replace("/", "__"): v for k, v in arrays.items()})
    tmp.replace(path)
    return arrays, digest
