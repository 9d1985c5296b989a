import numpy as np
import pytest
import torch

from metrics import METRICS
from metrics.alignment import shared_mse
from metrics.sliced_wasserstein import SlicedWasserstein


def test_swd_of_a_pure_shift_is_the_shift_norm_over_sqrt_d():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10_000, 16))
    swd = SlicedWasserstein(16, 128, seed=0)
    assert swd(x, x + 0.5) == pytest.approx(0.5, rel=0.05)
    assert swd(x, x) == 0.0
    assert swd(x, rng.standard_normal((10_000, 16))) < 0.05


def test_swd_uses_fixed_projections():
    a, b = SlicedWasserstein(8, 128, seed=3), SlicedWasserstein(8, 128, seed=3)
    np.testing.assert_array_equal(a.projections, b.projections)
    x, y = np.random.rand(100, 8), np.random.rand(100, 8) + 1
    assert a(x, y) == b(x, y)
    with pytest.raises(ValueError, match="expected 8-dimensional"):
        a(np.zeros((10, 7)), np.zeros((10, 7)))


def test_shared_mse_known_answers():
    x = torch.randn(50, 6)
    assert shared_mse(x, x) == 0.0
    assert shared_mse(x, x + 2) == pytest.approx(4.0)


def test_every_metric_declares_a_direction():
    for name in METRICS.names():
        assert isinstance(METRICS.get(name).higher_is_better, bool)
