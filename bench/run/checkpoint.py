"""Checkpoints that make a resumed cell bit-identical to an uninterrupted one: the caller stores the weights,
optimizer, EMA and data position; this module adds every random generator's state, writes atomically, keeps
the checkpoint before the last one, and sets aside a checkpoint that cannot be read instead of failing on it."""
from __future__ import annotations

import ast
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def random_state() -> dict[str, Any]:
    """Every random generator a training step may draw from: torch's (CPU and each GPU), NumPy's and Python's."""
    numpy_state = np.random.get_state(legacy=False)
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "numpy": {"key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                      "pos": int(numpy_state["state"]["pos"]), "has_gauss": int(numpy_state["has_gauss"]),
                      "gauss": float(numpy_state["gauss"])},
            "python": repr(random.getstate())}


def restore_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937", "state": {"key": n["key"].numpy().astype(np.uint32),
                                                                "pos": n["pos"]},
                         "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    random.setstate(ast.literal_eval(state["python"]))


def previous(path: Path) -> Path:
    return path.with_name(path.stem + ".prev" + path.suffix)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write through a synced temporary file; the checkpoint it replaces is kept as <name>.prev.pt, so a
    checkpoint damaged after its write still leaves one to resume from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    if path.exists():
        path.replace(previous(path))
    tmp.replace(path)


def load_checkpoint(path: Path, notes: list[str] | None = None) -> dict | None:
    """The newest readable checkpoint (the latest, else the one before it), or None to start from scratch. A
    checkpoint that cannot be read is renamed to <name>.corrupt, and `notes` says so, naming the file."""
    for candidate in (path, previous(path)):
        if not candidate.exists():
            continue
        try:
            state = torch.load(candidate, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or "step" not in state:
                raise ValueError("not a training checkpoint")
            return state
        except Exception as err:  # truncated, corrupt or foreign: set it aside, never fail the cell on it
            aside = candidate.with_name(candidate.name + ".corrupt")
            candidate.replace(aside)
            why = (str(err).strip().splitlines() or [""])[0].split(". ")[0]
            message = f"checkpoint {candidate} could not be read ({type(err).__name__}: {why}); moved to {aside.name}"
            if notes is not None:
                notes.append(message)
    return None
