"""FlowBind's released feature layout (spec image_text_audio §3): one `feats/<dataset>/<idx>.npz` per pair, keyed
by the two modalities it holds (text+image for LAION-COCO and Flickr30k, audio+text for AudioCaps, image+audio for
VGGSound), every vector already z-scored and 768-d. The layout has no test split and no triplets: the last
`n_test` pairs of each type (in file-name order) become its test set, and the triplets come from `test_tia.npz`
beside `feats/`, as for `data.source=files`. Validation pairs are held out of the training pairs (the suite does it,
data.held_out); validation triplets come from `val_tia.npz` beside `feats/` where it is given."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tasks.image_text_audio.data import MODALITIES, PAIRS, TRIPLETS, EmbeddingFileError, array_shapes, set_rows


def pair_type(keys: set[str]) -> str | None:
    return next((p for p, members in PAIRS.items() if set(members) == keys & set(MODALITIES)), None)


def pair_files(root: Path) -> dict[str, list[Path]]:
    """The per-pair files under root/feats, grouped by pair type (sorted by name within a type)."""
    feats = root / "feats"
    if not feats.is_dir():
        raise EmbeddingFileError(f"{feats} is missing: FlowBind's layout keeps one feats/<dataset>/<idx>.npz per pair")
    groups: dict[str, list[Path]] = {p: [] for p in PAIRS}
    for path in sorted(feats.glob("*/*.npz")):
        kind = pair_type(set(array_shapes(path)))
        if kind is None:
            raise EmbeddingFileError(f"{path} holds no known pair (needs two of {', '.join(MODALITIES)})")
        groups[kind].append(path)
    empty = [p for p, files in groups.items() if not files]
    if empty:
        raise EmbeddingFileError(f"{feats} has no {', '.join('–'.join(PAIRS[p]) for p in empty)} pairs")
    if not (root / f"test_{TRIPLETS}.npz").is_file():
        raise EmbeddingFileError(f"{root / f'test_{TRIPLETS}.npz'} is missing: FlowBind's layout has no triplets; "
                                 "give the synthetic-triplet test set (text, image, audio) there")
    return groups


def read_flowbind(root: Path, n_test: int) -> dict[str, np.ndarray]:
    """Arrays in this suite's naming ("train_ti/text", ..., "test_tia/audio", and "val_tia/audio" where given)."""
    out: dict[str, np.ndarray] = {}
    for p, files in pair_files(root).items():
        if len(files) <= n_test + 2:
            raise EmbeddingFileError(f"{root / 'feats'} has {len(files)} {'–'.join(PAIRS[p])} pairs, too few for "
                                     f"{n_test} test pairs (data.n_test) and training")
        rows = {m: [] for m in PAIRS[p]}
        for path in files:
            with np.load(path) as f:
                for m in PAIRS[p]:
                    rows[m].append(np.asarray(f[m], np.float32).reshape(-1))
        for m, vectors in rows.items():
            x = np.stack(vectors)
            if not np.isfinite(x).all():
                raise EmbeddingFileError(f"{root / 'feats'}: non-finite values in the {m} vectors of {p} pairs")
            out[f"train_{p}/{m}"], out[f"test_{p}/{m}"] = x[:-n_test], x[-n_test:]
    with np.load(root / f"test_{TRIPLETS}.npz") as f:
        for m in MODALITIES:
            if m not in f.files:
                raise EmbeddingFileError(f"{root / f'test_{TRIPLETS}.npz'} has no array '{m}'")
            out[f"test_{TRIPLETS}/{m}"] = np.asarray(f[m], np.float32)
    return out | validation_triplets(root, {m: out[f"test_{TRIPLETS}/{m}"].shape[-1] for m in MODALITIES})


def validation_triplets(root: Path, dims: dict[str, int]) -> dict[str, np.ndarray]:
    """"val_tia/<modality>" from val_tia.npz beside feats/, checked like a user's files (as wide as the test
    triplets' `dims`); {} where it is not given."""
    path = root / f"val_{TRIPLETS}.npz"
    if not path.is_file():
        return {}
    set_rows(path, MODALITIES, {m: (d, f"test_{TRIPLETS}.npz") for m, d in dims.items()})
    out = {}
    with np.load(path) as f:
        for m in MODALITIES:
            x = np.asarray(f[m])
            if not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all():
                raise EmbeddingFileError(f"{path}: '{m}' must hold finite floating-point values")
            out[f"val_{TRIPLETS}/{m}"] = x.astype(np.float32)
    return out
