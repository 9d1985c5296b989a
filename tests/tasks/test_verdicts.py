import numpy as np

from tasks.verdicts import Estimate, compare, holm


def test_holm_rejects_step_down_and_stops_at_the_first_it_cannot():
    assert holm([0.001, 0.04, 0.03]) == [True, False, False]  # 0.001 ≤ 0.05/3; 0.03 > 0.05/2: stop
    assert holm([0.001, 0.02, 0.04]) == [True, True, True]  # 0.02 ≤ 0.05/2, 0.04 ≤ 0.05/1
    assert holm([]) == []


def test_a_one_seed_variant_is_compared_with_a_row_on_the_seed_they_share():
    resamples = np.random.default_rng(0).standard_normal(50)
    row = Estimate({0: 1.0, 1: 3.0, 2: 5.0}, {s: v + 0.01 * resamples for s, v in ((0, 1.0), (1, 3.0), (2, 5.0))})
    variant = Estimate({0: 1.2}, {0: 1.2 + 0.01 * resamples})
    gap = compare([variant, row], lambda v, r: v - r)
    assert abs(gap.value - 0.2) < 1e-12 and gap.decide() is True  # paired at seed 0, not against the mean 3.0


def test_a_reference_row_is_a_constant_of_the_seed_level():
    resamples = np.random.default_rng(1).standard_normal(50)
    reference = Estimate({0: 0.5}, {0: 0.5 + 0.01 * resamples}, seed_free=True)
    row = Estimate({s: 0.6 + 0.001 * s for s in range(3)}, {s: 0.6 + 0.001 * s + 0.01 * resamples for s in range(3)})
    gap = compare([row, reference], lambda r, ref: r - ref)
    assert abs(gap.value - 0.101) < 1e-12 and gap.df < 10  # the three seeds' spread counts, with its few df
