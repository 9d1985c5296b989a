import pytest
import torch

from methods.backbone.aggregation import full_and_leave_one_out, product
from methods.backbone.model import Routes
from methods.muni import MuniOptions, muni_routes
from tests.methods.helpers import all_zero, any_nonzero, batch, build

FULL = torch.ones(3, 4000, dtype=torch.bool)


def one_route(subset: list[int], target: int | None, n: int = 8) -> Routes:
    s = torch.zeros(n, 3, dtype=torch.bool)
    s[:, subset] = True
    t = torch.zeros(n, 3, dtype=torch.bool)
    if target is not None:
        t[:, target] = True
    return Routes(torch.arange(n), s, t, torch.ones(n) * (target is not None), torch.ones(n) * (target is None),
                  detach=s & t)


def test_self_route_gives_exactly_zero_gradient_to_the_target_encoder():
    muni = build("muni")
    b = batch()
    loss = muni.backbone.routed_loss(b, one_route([0, 1], target=0), product)["loss"]
    loss.backward()
    enc = muni.backbone.encoders
    assert all_zero(enc["x1"])  # the target's own expert is detached
    assert any_nonzero(enc["x2"])  # the other expert in S still learns to predict x1
    assert any_nonzero(muni.backbone.decoders["x1"])  # the decoder is trained
    assert all_zero(enc["x3"])


def test_singleton_self_route_trains_only_the_decoder():
    muni = build("muni")
    muni.backbone.routed_loss(batch(), one_route([1], target=1), product)["loss"].backward()
    assert all(all_zero(e) for e in muni.backbone.encoders.values())
    assert any_nonzero(muni.backbone.decoders["x2"])


def test_without_detach_the_target_encoder_gets_gradient():
    muni = build("muni")
    route = one_route([0, 1], target=0)
    route.detach = None
    muni.backbone.routed_loss(batch(), route, product)["loss"].backward()
    assert any_nonzero(muni.backbone.encoders["x1"])


def test_recon_routes_do_not_train_the_prior_and_prior_routes_do_not_train_decoders():
    muni = build("muni")
    muni.backbone.routed_loss(batch(), one_route([0, 2], target=1), product)["loss"].backward()
    assert all_zero(muni.backbone.prior)
    muni.zero_grad()
    muni.backbone.routed_loss(batch(), one_route([0, 2], target=None), product)["loss"].backward()
    assert any_nonzero(muni.backbone.prior)
    assert all(all_zero(d) for d in muni.backbone.decoders.values())


def test_prior_routes_use_only_full_and_leave_one_out_subsets_and_the_ratio_is_3_to_2():
    routes = muni_routes(FULL, MuniOptions())
    prior_rows = routes.prior_weight > 0
    allowed = {tuple(r) for r in full_and_leave_one_out(3).tolist()}
    assert {tuple(r) for r in routes.subset[prior_rows].tolist()} <= allowed
    assert len({tuple(r) for r in routes.subset[prior_rows].tolist()}) == 4
    share = prior_rows.float().mean()
    assert abs(float(share) - 0.4) < 0.03  # 3:2 over 4000 draws
    recon = ~prior_rows
    assert (routes.targets[recon].sum(1) == 1).all() and not routes.targets[prior_rows].any()
    assert len({tuple(r) for r in routes.subset[recon].tolist()}) == 7


def test_detach_marks_exactly_the_self_target():
    routes = muni_routes(FULL, MuniOptions())
    torch.testing.assert_close(routes.detach, routes.subset & routes.targets)


def test_exact_mode_enumerates_21_recon_and_4_prior_routes_with_3_to_2_weights():
    routes = muni_routes(torch.ones(3, 2, dtype=torch.bool), MuniOptions(route_mode="exact", target_weight="mean"))
    recon, prior = routes.recon_weight > 0, routes.prior_weight > 0
    assert int(recon.sum()) == 2 * 21 and int(prior.sum()) == 2 * 4
    torch.testing.assert_close(routes.recon_weight[recon].sum(), torch.tensor(2 * 0.6))
    torch.testing.assert_close(routes.prior_weight[prior].sum(), torch.tensor(2 * 0.4))


@pytest.mark.parametrize("mode", ["mc", "exact"])
def test_summed_targets_weigh_each_reconstruction_by_the_number_of_observed_modalities(mode):
    # Eq. 12 sums over targets: against the average over targets, every reconstruction row of a sample
    # that observes k modalities weighs k times as much, and the prior rows are unchanged
    present = torch.ones(3, 64, dtype=torch.bool)
    present[2, 32:] = False
    def routes_for(target_weight: str) -> Routes:
        torch.manual_seed(0)
        return muni_routes(present, MuniOptions(route_mode=mode, target_weight=target_weight))
    summed, averaged = routes_for("sum"), routes_for("mean")
    observed = present.sum(0)[summed.sample].float()
    torch.testing.assert_close(summed.recon_weight, averaged.recon_weight * observed)
    torch.testing.assert_close(summed.prior_weight, averaged.prior_weight)
    assert set(observed[summed.recon_weight > 0].tolist()) == {2.0, 3.0}


def test_several_routes_per_sample_split_each_samples_weight_among_its_independent_draws():
    torch.manual_seed(0)
    n, draws = 200, 4
    routes = muni_routes(torch.ones(3, n, dtype=torch.bool), MuniOptions(routes_per_sample=draws,
                                                                        target_weight="mean"))
    assert len(routes.sample) == draws * n
    per_sample = torch.zeros(n).index_add_(0, routes.sample, routes.recon_weight + routes.prior_weight)
    torch.testing.assert_close(per_sample, torch.ones(n))
    assert (routes.sample.view(draws, n) == torch.arange(n)).all()
    by_draw = routes.subset.view(draws, n, 3)
    assert (by_draw != by_draw[0]).any()  # independent draws, not copies


def test_pairs_only_data_still_trains_the_prior_on_the_observed_pair():
    present = torch.tensor([[True] * 100, [True] * 100, [False] * 100])
    routes = muni_routes(present, MuniOptions())
    prior_rows = routes.prior_weight > 0
    assert prior_rows.any()
    assert (routes.subset[prior_rows] == torch.tensor([True, True, False])).all()
    assert not routes.subset[:, 2].any() and not routes.targets[:, 2].any()


def test_unified_latents_trains_the_prior_on_every_subset_without_detach():
    ul = build("unified_latents")
    routes = muni_routes(FULL, ul.options)
    prior_subsets = {tuple(r) for r in routes.subset[routes.prior_weight > 0].tolist()}
    assert len(prior_subsets) == 7 and routes.detach is None


def test_mc_and_exact_modes_estimate_the_same_objective():
    torch.manual_seed(0)
    muni = build("muni")
    b = batch(64)
    def mean_loss(mode: str, reps: int) -> float:
        muni.options = MuniOptions(route_mode=mode)
        with torch.no_grad():
            return sum(float(muni.loss(b)["loss"]) for _ in range(reps)) / reps
    mc, exact = mean_loss("mc", 400), mean_loss("exact", 40)
    assert mc == pytest.approx(exact, rel=0.03)


def test_bad_options_are_rejected_with_the_allowed_values():
    with pytest.raises(ValueError, match="product, hellinger, mixture"):
        MuniOptions(aggregation="sum")
    with pytest.raises(ValueError, match="sum, mean"):
        MuniOptions(target_weight="max")
    with pytest.raises(ValueError, match="routes_per_sample"):
        MuniOptions(routes_per_sample=0)
