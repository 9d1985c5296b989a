"""What bench/run/plan.py asks of this suite before any cell starts: the size of one tuple, to bound the data's memory.
Kept apart from the suite, which does not import it."""
from __future__ import annotations

from tasks.gaussian_mixture.data import GaussianMixtureData


def check(data: GaussianMixtureData, media_weights: str) -> None:
    """The data is generated, not read: nothing to check."""


def tuple_floats(data: GaussianMixtureData) -> int:
    """Values in one tuple: three modalities, each seeing the shared factor, its two pair factors and its own."""
    return 3 * (data.d_all + 2 * data.d_pair + data.d_priv)
