import numpy as np

from bench.core.convergence import CONVERGED_BELOW, loss_trend


def curve(losses):
    return [[25 * (i + 1), float(v)] for i, v in enumerate(losses)]


def test_a_loss_still_falling_is_not_converged_and_a_flat_noisy_one_is():
    steps = np.arange(1, 49)
    falling = loss_trend(curve(100 * np.exp(-steps / 30)))
    assert falling["relative_change"] < -CONVERGED_BELOW and not falling["converged"]
    assert falling["window"][1] == 1200 and falling["window"][0] >= 0.8 * 1200 - 25
    rng = np.random.default_rng(0)
    flat = loss_trend(curve(50 + 0.05 * rng.standard_normal(48)))
    assert abs(flat["relative_change"]) < CONVERGED_BELOW and flat["converged"]


def test_too_short_a_curve_says_nothing():
    assert loss_trend(curve([3, 2, 1])) is None
