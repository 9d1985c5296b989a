import random

import numpy as np
import torch

from bench.run.checkpoint import load_checkpoint, previous, random_state, restore_random_state, save_checkpoint


def draws() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), np.random.randn(), random.random()


def test_every_random_generator_is_restored_through_a_checkpoint_file(tmp_path):
    np.random.randn()  # leave NumPy holding a cached Gaussian, which is part of its state
    save_checkpoint(tmp_path / "c.pt", {"step": 1, "rng": random_state()})
    expected = draws()
    draws()
    restore_random_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert draws() == expected


def test_the_checkpoint_before_the_last_is_kept_and_used_when_the_last_is_damaged(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 1})
    save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 2 and load_checkpoint(previous(path))["step"] == 1
    path.write_bytes(b"\0" * 10)
    notes: list[str] = []
    assert load_checkpoint(path, notes)["step"] == 1
    assert notes and str(path) in notes[0] and (tmp_path / "c.pt.corrupt").exists()
    previous(path).write_text("{}")
    assert load_checkpoint(path, notes) is None and len(notes) == 2  # nothing readable: start from scratch
