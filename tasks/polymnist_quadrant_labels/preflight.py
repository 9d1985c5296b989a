"""What bench/run/plan.py checks of this suite's sources before any cell starts: the MNIST files are read and every
background image is opened. Kept apart from the suite, which does not import it: a check changes no number."""
from __future__ import annotations

from pathlib import Path

from tasks.polymnist_quadrant_labels import data as pq


def check(data: pq.PolyMnistQuadrantLabelsData, media_weights: str) -> None:
    """ValueError (DataSourceError) naming the first problem."""
    if data.source == "mnist":
        pq.load_mnist(Path(data.mnist_dir).expanduser())
    for path in pq.background_paths(data):
        pq.load_background(path, data.canvas)


def tuple_floats(data: pq.PolyMnistQuadrantLabelsData) -> int:
    """Values in one tuple: three RGB canvases."""
    return 3 * 3 * data.canvas ** 2
