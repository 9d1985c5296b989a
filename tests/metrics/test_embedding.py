"""Oracle tests of the embedding metrics: the reference itself scores perfectly, shuffled pairs at chance."""
import pytest
import torch

from metrics.embedding import (
    KernelJudge,
    diversity,
    frechet_distance,
    recall_at_k,
    reference_cosine,
    reference_win_rate,
)


def vectors(n: int = 600, d: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_the_reference_scores_perfectly_and_shuffled_references_at_chance():
    x = vectors()
    shuffled = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(1))]
    assert reference_cosine(x, x) == pytest.approx(1.0)
    assert reference_win_rate(x, x) == 100.0 and recall_at_k(x, x, 5) == 100.0
    assert reference_win_rate(shuffled, x) == pytest.approx(50.0, abs=3.0)
    assert recall_at_k(shuffled, x, 5) == pytest.approx(100 * 5 / len(x), abs=1.5)
    assert abs(reference_cosine(shuffled, x)) < 0.05


def test_frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_a_moved_one():
    x = vectors(2000, 8)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x + 0.5, x) == pytest.approx(8 * 0.25, rel=1e-3)


def test_frechet_distance_equals_the_textbook_matrix_square_root_form():
    import numpy as np
    from scipy import linalg

    a, b = vectors(500, 12), vectors(500, 12) @ torch.randn(12, 12, generator=torch.Generator().manual_seed(5))
    cov_a, cov_b = np.cov(a.double().numpy(), rowvar=False), np.cov(b.double().numpy(), rowvar=False)
    mean_gap = float(((a.double().mean(0) - b.double().mean(0)) ** 2).sum())
    textbook = mean_gap + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real)
    assert frechet_distance(a, b) == pytest.approx(textbook, rel=1e-8)
    assert frechet_distance(a[:, :1].repeat(1, 12), b) > 0  # a singular covariance (a collapsed generator)


def test_diversity_is_zero_for_a_deterministic_generator_and_one_for_independent_real_draws():
    targets = vectors(400, 16).repeat_interleave(4, 0)
    assert diversity(targets, targets, samples=4) == 0.0
    draws = vectors(1600, 16, seed=3)
    assert diversity(draws, targets, samples=4) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="at least 2 draws per source"):
        diversity(draws[:3], targets[:3], samples=4)


def test_a_linear_judge_recognises_real_pairs_and_scores_shuffled_ones_at_chance():
    a = vectors(1500, 12)
    b = a @ vectors(12, 20, seed=5) + 0.3 * vectors(1500, 20, seed=6)
    judge = KernelJudge(a[:1000], b[:1000])
    test_a, test_b = a[1000:], b[1000:]
    assert judge.win_rate(test_a, test_b) > 95.0
    assert judge.win_rate(test_a, test_b.flip(0)) == pytest.approx(50.0, abs=4.0)
