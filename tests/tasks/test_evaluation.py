"""The uncertainty engine end to end on a small Gaussian-mixture suite: every value leaves with its replicates, two
evaluations of one model are paired to a difference of exactly 0, and reference rows do not depend on the global
random state or on which method was scored before them."""
import numpy as np
import pytest
import torch

from bench.core.config import resolve
from methods import METHODS
from tasks.gaussian_mixture import data as gm
from tasks.gaussian_mixture.suite import GaussianMixture
from tasks.verdicts import Estimate, compare

KEYS = ("one_to_one/alignment_mse", "many_to_one/alignment_mse", "unconditional/fidelity_swd",
        "unconditional/coherence_mse")


@pytest.fixture(scope="module")
def setting():
    cfg = resolve("gaussian_mixture", "muni", 0, "smoke", ["eval.n_samples=300", "eval.bootstrap=50"])
    suite = GaussianMixture(gm.GaussianMixtureData(**{**cfg.data.__dict__, "n_train": 2000, "n_test": 300}))
    torch.manual_seed(0)
    methods = {name: METHODS.get(name)(suite.specs, cfg.model, cfg.flow, cfg.options).eval()
               for name in ("muni", "mopoe")}
    return suite, cfg.eval, methods


def evaluated(setting, name: str, seed: int):
    suite, eval_config, methods = setting
    torch.manual_seed(seed)
    return suite.evaluate(methods[name], eval_config, "cpu").metrics


def estimate(result) -> Estimate:
    return Estimate({0: result.value}, {0: np.asarray(result.replicates)})


def test_every_value_has_replicates_and_the_same_model_evaluated_twice_differs_by_exactly_zero(setting):
    first, again = evaluated(setting, "muni", 1), evaluated(setting, "muni", 1)
    for key in KEYS:
        assert len(first[key].replicates) == 50 and first[key].se > 0
        interval = compare([estimate(first[key]), estimate(again[key])], lambda a, b: a - b)
        assert interval.value == interval.low == interval.high == 0.0, key


def test_another_method_on_the_same_resamples_has_a_paired_difference_with_a_width(setting):
    muni, mopoe = evaluated(setting, "muni", 1), evaluated(setting, "mopoe", 2)
    key = "unconditional/fidelity_swd"
    interval = compare([estimate(muni[key]), estimate(mopoe[key])], lambda a, b: a - b)
    assert interval.low < interval.value < interval.high
    # pairing: both are compared with the same resampled test tuples, so their difference is less noisy than two
    # independent values would be
    assert interval.se < (muni[key].se ** 2 + mopoe[key].se ** 2) ** 0.5


def test_reference_rows_are_the_same_whatever_was_scored_before_them(setting):
    suite, eval_config, methods = setting
    suite.reference_cache.clear()
    after_muni = evaluated(setting, "muni", 3)
    suite.reference_cache.clear()
    after_mopoe = evaluated(setting, "mopoe", 8)
    for key in KEYS:
        a, b = after_muni[f"reference:oracle/{key}"], after_mopoe[f"reference:oracle/{key}"]
        assert a.value == b.value and a.replicates == b.replicates
    assert after_muni["reference:oracle/one_to_one/alignment_mse"].value == 0.0
