"""The tuple bootstrap on problems with a known answer: over 200 simulated evaluations the 95% interval (value ±
1.96 bootstrap SE) covers the true value 90-99% of the time for a row mean, a win-rate and a Fréchet distance; the
exact shortcuts of the metrics equal recomputing the score on each resample."""
import numpy as np
import pytest
import torch

from metrics.base import Pooled, RowMean
from metrics.bootstrap import draws, interval, row_index, standard_error
from metrics.embedding import (
    Frechet,
    frechet_distance,
    recall,
    recall_from_scores,
    reference_win,
    similarities,
    win_rows,
)
from metrics.sliced_wasserstein import SlicedWasserstein, SlicedWassersteinMetric

REPLICATIONS = 200
RESAMPLES = 200


def covered(metric_of, truth: float, n: int, seed: int) -> float:
    """The share of simulated evaluations whose interval contains the true value."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(REPLICATIONS):
        metric = metric_of(rng)
        value, replicates = float(metric.compute()), metric.resampled(draws(n, RESAMPLES))
        low, high = interval(value, standard_error(replicates))
        hits += low <= truth <= high
    return hits / REPLICATIONS


def test_the_interval_of_a_row_mean_covers_the_true_mean():
    def metric_of(rng):
        rows = torch.from_numpy(rng.exponential(2.0, (300, 1)))  # a skewed score, true mean 2
        metric = RowMean(lambda preds, target: preds[:, 0])
        metric.update(rows, rows)
        return metric
    assert 0.90 <= covered(metric_of, 2.0, 300, seed=1) <= 0.99


def test_the_interval_of_a_win_rate_covers_its_population_value():
    """Win-rate of noisy copies against their targets; its population value is P(cos(p, t) > cos(p, t')) for an
    independent target t', estimated here on a million independent triples."""
    d, noise = 8, 1.5
    big = np.random.default_rng(0)
    t, other = big.standard_normal((1_000_000, d)), big.standard_normal((1_000_000, d))
    p = t + noise * big.standard_normal((1_000_000, d))

    def cos(a, b):
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    truth = 100.0 * float((cos(p, t) > cos(p, other)).mean())

    def metric_of(rng):
        target = torch.from_numpy(rng.standard_normal((200, d)))
        metric = reference_win()
        metric.update(target + noise * torch.from_numpy(rng.standard_normal((200, d))), target)
        return metric
    assert 0.90 <= covered(metric_of, truth, 200, seed=2) <= 0.99


def test_the_interval_of_a_frechet_distance_covers_the_distance_between_the_true_gaussians():
    """N(0, I) against N((1, 0.5), diag(1.5², 0.7²)) in 2-d: FD = 1.25 + (1.5 - 1)² + (0.7 - 1)² = 1.59."""
    truth = 1.25 + 0.5 ** 2 + 0.3 ** 2

    def metric_of(rng):
        metric = Frechet()
        metric.update(torch.from_numpy(rng.standard_normal((1000, 2))),
                      torch.from_numpy(rng.standard_normal((1000, 2)) * [1.5, 0.7] + [1.0, 0.5]))
        return metric
    assert 0.90 <= covered(metric_of, truth, 1000, seed=3) <= 0.99


def test_linearised_frechet_resamples_track_recomputed_ones():
    rng = np.random.default_rng(4)
    x = torch.from_numpy(rng.standard_normal((800, 16)) + 0.3)
    y = torch.from_numpy(rng.standard_normal((800, 16)) @ (np.eye(16) + 0.2 * rng.standard_normal((16, 16))))
    index = draws(800, 100)
    recomputed, linear = Pooled(frechet_distance), Frechet()
    for m in (recomputed, linear):
        m.update(x, y)
    exact, fast = recomputed.resampled(index), linear.resampled(index)
    assert np.corrcoef(exact, fast)[0, 1] > 0.95
    assert standard_error(fast) == pytest.approx(standard_error(exact), rel=0.15)
    assert float(linear.compute()) == pytest.approx(float(recomputed.compute()), rel=1e-12)


@pytest.mark.parametrize("row_scores", [win_rows, recall_from_scores])
def test_pairwise_resamples_equal_recomputing_on_the_resampled_rows_and_candidates(row_scores):
    rng = np.random.default_rng(5)
    target = torch.from_numpy(rng.standard_normal((60, 6)))
    preds = target + torch.from_numpy(rng.standard_normal((60, 6)))
    metric = reference_win() if row_scores is win_rows else recall()
    metric.update(preds, target)
    scores = similarities(preds, target)
    index = draws(60, 30)
    recomputed = torch.stack([row_scores(scores[i][:, i]).mean() for i in index])
    assert torch.allclose(metric.resampled(index), recomputed, atol=1e-12)
    assert float(metric.compute()) == pytest.approx(float(row_scores(scores).mean()), abs=1e-12)


def test_sliced_wasserstein_resamples_equal_pot_on_each_resample():
    rng = np.random.default_rng(6)
    x, y = torch.from_numpy(rng.standard_normal((300, 5))), torch.from_numpy(rng.standard_normal((300, 5)) + 0.2)
    distance = SlicedWasserstein(5, 32, seed=0)
    fast, slow = SlicedWassersteinMetric(distance), Pooled(distance)
    for m in (fast, slow):
        m.update(x, y)
    index = draws(300, 12)
    assert torch.allclose(fast.resampled(index), slow.resampled(index), atol=1e-12)


def test_row_means_resample_as_their_rows_and_tuples_with_several_rows_stay_together():
    rows = torch.arange(12, dtype=torch.float64)[:, None]
    metric = RowMean(lambda preds, target: preds[:, 0])
    metric.update(rows, rows)
    tuples = torch.tensor([[0, 0, 5], [2, 1, 1]])
    assert metric.resampled(tuples).tolist() == [5 / 3, 4 / 3]
    assert row_index(tuples, 2).tolist() == [[0, 1, 0, 1, 10, 11], [4, 5, 2, 3, 2, 3]]
    assert torch.equal(draws(300, 50), draws(300, 50))  # the same resamples for every method


def test_a_constant_score_has_a_zero_standard_error():
    metric = RowMean(lambda preds, target: preds[:, 0])
    metric.update(torch.full((50, 1), 7.0, dtype=torch.float64), torch.zeros(50, 1))
    assert standard_error(metric.resampled(draws(50, 20))) == 0.0


def test_diversity_resamples_draw_sources_with_their_draws_and_equal_recomputing():
    from metrics.embedding import Diversity, diversity

    rng = np.random.default_rng(7)
    target = torch.from_numpy(rng.standard_normal((50, 6))).repeat_interleave(4, 0)
    preds = target + torch.from_numpy(rng.standard_normal((200, 6)))
    fast, slow = Diversity(4), Pooled(lambda p, t: diversity(p, t, 4))
    for m in (fast, slow):
        m.update(preds, target)
    index = row_index(draws(50, 10), 4)
    assert torch.allclose(fast.resampled(index), slow.resampled(index), rtol=1e-9)
