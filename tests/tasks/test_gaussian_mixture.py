import numpy as np
import pytest
import torch

from methods.base import Capabilities
from tasks.gaussian_mixture import data as gm


def test_modality_layout_is_the_concatenation_of_its_factors():
    assert gm.modality_factors("x1") == ["s123", "s12", "s13", "p1"]
    assert gm.modality_factors("x2") == ["s123", "s12", "s23", "p2"]
    assert gm.modality_factors("x3") == ["s123", "s13", "s23", "p3"]
    cfg = gm.GaussianMixtureData(d_all=2, d_pair=3, d_priv=4)
    assert gm.layout(cfg, "x3") == {"s123": slice(0, 2), "s13": slice(2, 5), "s23": slice(5, 8), "p3": slice(8, 12)}


def test_shared_coordinates_hold_identical_values_and_private_ones_do_not():
    cfg = gm.GaussianMixtureData(d_all=2, d_pair=3, d_priv=4, n_train=500, n_test=100)
    data = gm.generate(cfg)
    for a, b in (("x1", "x2"), ("x1", "x3"), ("x2", "x3")):
        ia, ib = gm.shared_index(cfg, a, b)
        assert len(ia) == 2 + 3
        np.testing.assert_array_equal(data[f"{a}/train"][:, ia], data[f"{b}/train"][:, ib])
    ia, ib = gm.shared_index(cfg, "x1", "x3")
    assert list(ia) == [0, 1, 5, 6, 7] and list(ib) == [0, 1, 2, 3, 4]
    assert not np.allclose(data["x1/train"][:, -4:], data["x2/train"][:, -4:])


def test_generation_is_deterministic_standardised_and_cached(tmp_path):
    cfg = gm.GaussianMixtureData(n_train=2000, n_test=300)
    first = gm.load(cfg, tmp_path)
    assert len(list((tmp_path / "gaussian_mixture").glob("*.npz"))) == 1
    again = gm.load(cfg, tmp_path)
    fresh = gm.generate(cfg)
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
        np.testing.assert_array_equal(first[k], fresh[k])
    train = first["x1/train"]
    assert train.shape == (2000, 60) and first["x1/test"].shape == (300, 60)
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-4)
    other = gm.generate(gm.GaussianMixtureData(n_train=2000, n_test=300, seed=7))
    assert not np.allclose(other["x1/train"], train)


def test_bad_data_config_is_rejected():
    with pytest.raises(ValueError, match="weights must be one of uniform, dirichlet"):
        gm.GaussianMixtureData(weights="zipf")


def test_parallel_processes_can_fill_the_cache_at_once(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    cfg = gm.GaussianMixtureData(n_train=3000, n_test=100, seed=11)
    with ProcessPoolExecutor(4) as pool:
        results = list(pool.map(gm.load, [cfg] * 4, [tmp_path] * 4))
    for r in results:
        np.testing.assert_array_equal(r["x2/train"], results[0]["x2/train"])
    assert [p.name for p in (tmp_path / "gaussian_mixture").iterdir()] == [f"{cfg.key()}.npz"]


class Oracle:
    """The data's own generator scored as a method: conditional samples copy the shared factors from the sources
    and take private ones from other real tuples; joint samples are real training tuples. `shuffle` breaks the
    pairing: targets come from unrelated tuples."""

    capabilities = Capabilities()

    def __init__(self, suite, shuffle: bool = False):
        self.suite, self.shuffle = suite, shuffle
        self.train = suite.split("train", "cpu")
        self.generator = torch.Generator().manual_seed(0)

    def generate(self, batch, subset, targets):
        n = batch.size
        donors = torch.randint(len(self.train["x1"]), (n,), generator=self.generator)
        out = {}
        for t in targets:
            x = self.train[t][donors].clone()
            if not self.shuffle:
                for s in subset:
                    i_s, i_t = gm.shared_index(self.suite.data_config, s, t)
                    x[:, i_t] = batch.data[s][:, i_s]
            out[t] = x
        return out

    def sample_joint(self, n):
        return {m: x[-n:] for m, x in self.train.items()}  # the last rows: not the floor's first rows


@pytest.fixture(scope="module")
def suite():
    from tasks.base import EvalConfig
    from tasks.gaussian_mixture.suite import GaussianMixture

    return GaussianMixture(gm.GaussianMixtureData(n_train=4000, n_test=1000)), EvalConfig(n_samples=1000, bootstrap=100)


def test_the_data_generator_scores_perfect_alignment_and_coherence_and_fidelity_like_real_vs_real(suite):
    s, eval_config = suite
    metrics = s.evaluate(Oracle(s), eval_config, "cpu").metrics
    for key in ("one_to_one/alignment_mse", "many_to_one/alignment_mse", "unconditional/coherence_mse"):
        oracle = metrics[f"reference:oracle/{key}"]
        assert metrics[key].value == 0.0 and oracle.value == 0.0 and metrics[key].n == 1000
    fidelity, real = metrics["unconditional/fidelity_swd"], metrics["reference:oracle/unconditional/fidelity_swd"]
    assert real.value > 0 and abs(fidelity.value - real.value) < 4 * (fidelity.se + real.se)
    assert fidelity.ci95[0] < fidelity.value < fidelity.ci95[1] and len(fidelity.replicates) == eval_config.bootstrap


def test_the_oracle_generator_keeps_the_factors_a_source_carries_and_draws_the_others_afresh(suite):
    from tasks.evaluation import Task

    s, _ = suite
    s.device = "cpu"
    rows = s.test_rows(300)
    made = s.oracle_conditional(Task("one_to_one", ("x1",), ("x2", "x3")), rows, slice(0, 300))
    cfg = s.data_config
    for t in ("x2", "x3"):
        i_s, i_t = gm.shared_index(cfg, "x1", t)
        torch.testing.assert_close(made[t][:, i_t], rows["x1"][:, i_s])  # s123 and the pair factor: the source's
        fresh = gm.layout(cfg, t)["s23"]  # neither in x1 nor equal to the test tuple's own
        assert not torch.allclose(made[t][:, fresh], rows[t][:, fresh])
        assert made[t][:, fresh].std(0).mean() == pytest.approx(1.0, abs=0.15)  # standardised like the data
    both = s.oracle_conditional(Task("many_to_one", ("x1", "x2"), ("x3",)), rows, slice(0, 300))["x3"]
    private = gm.layout(cfg, "x3")["p3"]
    torch.testing.assert_close(both[:, :private.start], rows["x3"][:, :private.start])  # every factor but p3
    assert not torch.allclose(both[:, private], rows["x3"][:, private])


def test_shuffled_pairs_score_the_alignment_of_independent_standardised_coordinates(suite):
    s, eval_config = suite
    metrics = s.evaluate(Oracle(s, shuffle=True), eval_config, "cpu").metrics
    for key in ("one_to_one/alignment_mse", "many_to_one/alignment_mse"):
        assert metrics[key].value == pytest.approx(2.0, abs=0.15)  # E(a - b)^2 = 2 for independent unit coordinates
