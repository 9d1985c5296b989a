"""What bench/run/plan.py checks of this suite's sources before any cell starts: the digits are read (the MNIST files)
and split (every class keeps digits for both training and validation), and every background image is opened. Kept
apart from the suite, which does not import it: a check changes no number."""
from __future__ import annotations

from tasks.polymnist_quadrant_labels import data as pq


def check(data: pq.PolyMnistQuadrantLabelsData, media_weights: str) -> None:
    """ValueError (DataSourceError) naming the first problem."""
    pq.digit_splits(data, pq.load_digit_source(data))
    for path in pq.background_paths(data):
        pq.load_background(path, data.canvas)


def tuple_floats(data: pq.PolyMnistQuadrantLabelsData) -> int:
    """Values in one tuple: three RGB canvases."""
    return 3 * 3 * data.canvas ** 2
