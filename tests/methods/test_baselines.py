import pytest
import torch

from methods.base import ConditioningError
from methods.mvae import Mvae
from tests.methods.helpers import all_zero, any_nonzero, batch, build


def capture_routes(method, monkeypatch, n: int = 5):
    seen = {}
    original = method.backbone.routed_loss

    def spy(b, routes, aggregate):
        seen["routes"], seen["aggregate"] = routes, aggregate
        return original(b, routes, aggregate)

    monkeypatch.setattr(method.backbone, "routed_loss", spy)
    method.loss(batch(n))
    return seen["routes"], seen["aggregate"]


def rows_as_sets(routes):
    return [(tuple(s.nonzero().flatten().tolist()), tuple(t.nonzero().flatten().tolist()))
            for s, t in zip(routes.subset, routes.targets)]


def test_mvae_terms_are_full_singletons_and_a_random_pair_each_reconstructing_only_itself(monkeypatch):
    routes, aggregate = capture_routes(build("mvae"), monkeypatch)
    rows = rows_as_sets(routes)
    assert len(rows) == 5 * 5
    for subset, targets in rows:
        assert subset == targets
    sizes = sorted(len(s) for s, _ in rows[::5])
    assert sizes == [1, 1, 1, 2, 3]
    assert (routes.prior_weight == 1).all()
    assert aggregate is Mvae.aggregate


@pytest.mark.parametrize("draw, distinct", [("sample", 3), ("batch", 1)])
def test_mvae_draws_its_random_subset_per_sample_or_once_per_batch(monkeypatch, draw, distinct):
    torch.manual_seed(0)
    routes, _ = capture_routes(build("mvae", Mvae.Options(subset_draw=draw)), monkeypatch, n=64)
    random_rows = rows_as_sets(routes)[4 * 64:]  # after the full set and the three singletons
    assert {len(subset) for subset, _ in random_rows} == {2}
    assert len({subset for subset, _ in random_rows}) == distinct


def test_mvae_rejects_an_unknown_subset_draw():
    with pytest.raises(ValueError, match="unknown subset_draw 'epoch'; available: sample, batch"):
        Mvae.Options(subset_draw="epoch")


def test_mvae_adds_the_prior_expert_to_every_subset_and_mopoe_only_to_the_full_set():
    mu, logvar = torch.randn(3, 2, 4), torch.randn(3, 2, 4)
    single = torch.tensor([[True, True], [False, False], [False, False]])
    full = torch.ones(3, 2, dtype=torch.bool)
    mvae, mopoe = build("mvae"), build("mopoe")
    # a singleton with the N(0, I) expert is sharper than the expert alone
    assert (mvae.aggregate(mu, logvar, single).logvar < logvar[0]).all()
    torch.testing.assert_close(mopoe.aggregate(mu, logvar, single).logvar, logvar[0])
    torch.testing.assert_close(mopoe.aggregate(mu, logvar, full).logvar, mvae.aggregate(mu, logvar, full).logvar)


def test_mopoe_partitions_the_batch_over_subsets_and_averages_the_prior_over_all_subsets(monkeypatch):
    routes, _ = capture_routes(build("mopoe"), monkeypatch)
    recon = routes.recon_weight > 0
    assert int(recon.sum()) == 5
    assert (routes.targets[recon].all(1)).all()  # every latent decodes every modality
    assert len({tuple(s) for s in routes.subset[recon].tolist()}) == 5  # 5 samples, 5 different subsets
    prior = routes.prior_weight > 0
    assert int(prior.sum()) == 5 * 7
    torch.testing.assert_close(routes.prior_weight[prior], torch.full((35,), 1 / 7))


def test_helvae_trains_one_full_set_hellinger_latent(monkeypatch):
    from methods.backbone.aggregation import hellinger

    routes, aggregate = capture_routes(build("helvae"), monkeypatch)
    assert routes.subset.all() and routes.targets.all() and (routes.prior_weight == 1).all()
    assert aggregate is hellinger


def test_mmvae_unimodal_latents_decode_everything_and_train_the_prior(monkeypatch):
    routes, _ = capture_routes(build("mmvae"), monkeypatch)
    assert (routes.subset.sum(1) == 1).all() and routes.targets.all()
    torch.testing.assert_close(routes.prior_weight, torch.full((15,), 1 / 3))


def test_mmvae_conditions_on_exactly_one_expert_of_the_subset():
    mmvae = build("mmvae")
    b = batch(300)
    q = mmvae.posterior(b, ["x1", "x2"])
    mu, _, _ = mmvae.backbone.experts(b)
    from_one = (q.mu == mu[0]).all(-1) | (q.mu == mu[1]).all(-1)
    assert from_one.all()


def test_mmvae_plus_cross_reconstruction_trains_the_auxiliary_prior_scale():
    m = build("mmvae_plus")
    out = m.loss(batch())
    out["loss"].backward()
    assert m.aux_logvar.grad is not None and (m.aux_logvar.grad != 0).any()
    assert "private_kl" in out
    gen = m.generate(batch(), ["x1"], ["x2"])
    assert gen["x2"].shape == (8, 6)


def test_shala_has_no_many_to_one_and_its_second_stage_leaves_the_autoencoder_alone():
    m = build("shala")
    with pytest.raises(ConditioningError, match="shala cannot condition on x1\\+x2"):
        m.generate(batch(), ["x1", "x2"], ["x3"])
    assert [s.name for s in m.stages] == ["autoencoder", "priors"]
    m.loss(batch(), "priors")["loss"].backward()
    assert all_zero(m.backbone) and all_zero(m.fusion)
    assert any_nonzero(m.prior) and any_nonzero(m.conditional_prior)
    m.zero_grad()
    m.loss(batch(), "autoencoder")["loss"].backward()
    assert any_nonzero(m.backbone.encoders["x1"]) and all_zero(m.prior)
    assert m.generate(batch(), ["x2"], ["x1"])["x1"].shape == (8, 6)
