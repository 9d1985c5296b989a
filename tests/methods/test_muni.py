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
    routes = muni_routes(torch.ones(3, 2, dtype=torch.bool), MuniOptions(route_mode="exact"))
    recon, prior = routes.recon_weight > 0, routes.prior_weight > 0
    assert int(recon.sum()) == 2 * 21 and int(prior.sum()) == 2 * 4
    torch.testing.assert_close(routes.recon_weight[recon].sum(), torch.tensor(2 * 0.6))
    torch.testing.assert_close(routes.prior_weight[prior].sum(), torch.tensor(2 * 0.4))


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
