"""Every registered method trains every network it owns on the Gaussian-mixture suite at smoke size, with a
finite loss, and generates every direction it declares; bad input gets a clear error."""
import dataclasses

import pytest
import torch

from bench.core.config import resolve
from bench.run.train import TrainingDiverged, train
from methods import METHODS
from methods.backbone.modality import Batch, DataError
from methods.base import ConditioningError
from tasks import SUITES
from tests.methods.helpers import TINY, batch, build


@pytest.fixture(scope="module")
def smoke_suite():
    cfg = resolve("gaussian_mixture", "muni", 0, "smoke")
    return SUITES.get("gaussian_mixture")(cfg.data)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_trains_every_network_it_owns_and_generates_its_directions(name, smoke_suite):
    # losses logged every 20 steps: a logged step runs under the FLOP counter, which costs several plain steps
    cfg = resolve("gaussian_mixture", name, 0, "smoke", ["train.steps=60", "train.log_every=20"])
    method = METHODS.get(name)(smoke_suite.specs, cfg.model, cfg.flow, cfg.options)
    before = {k: v.detach().clone() for k, v in method.named_parameters()}
    losses = []
    ema, summary = train(method, smoke_suite, cfg.train, torch.device("cpu"),
                         log=lambda terms, step: losses.append(terms["train/loss"]))
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    # a network cut off from its objective (a detach too many, a term left out) keeps its initial weights
    unmoved = [k for k, v in method.named_parameters() if torch.equal(v.detach(), before[k])]
    assert not unmoved, f"{name} never trained: {unmoved}"
    model = ema.module
    test = Batch({s.name: torch.randn(5, *s.shape) for s in smoke_suite.specs})
    caps = model.capabilities
    if caps.one_to_one:
        assert model.generate(test, ["x1"], ["x2", "x3"])["x3"].shape == (5, 60)
    if caps.many_to_one:
        out = model.generate(test, ["x1", "x2"], ["x3"])["x3"]
        assert out.shape == (5, 60) and torch.isfinite(out).all()
    else:
        with pytest.raises(ConditioningError):
            model.generate(test, ["x1", "x2"], ["x3"])
    if caps.unconditional:
        joint = model.sample_joint(4)
        assert {k: tuple(v.shape) for k, v in joint.items()} == {"x1": (4, 60), "x2": (4, 60), "x3": (4, 60)}
    else:
        with pytest.raises(ConditioningError):
            model.sample_joint(4)


def test_wrong_shape_names_the_modality():
    muni = build("muni")
    b = batch()
    b.data["x2"] = torch.randn(8, 5)
    with pytest.raises(DataError, match="modality 'x2': expected shape \\(batch, 6\\) but got \\(8, 5\\)"):
        muni.loss(b)


def test_non_finite_values_name_the_modality():
    muni = build("muni")
    b = batch()
    b.data["x3"][2, 1] = float("nan")
    with pytest.raises(DataError, match="modality 'x3': 1 non-finite values"):
        muni.loss(b)
    with pytest.raises(DataError, match="modality 'x3'"):
        muni.generate(b, ["x3"], ["x1"])


def test_unknown_modality_in_subset_lists_the_available_ones():
    with pytest.raises(ConditioningError, match="unknown modality 'x9'; available: x1, x2, x3"):
        build("muni").generate(batch(), ["x9"], ["x1"])


def test_unknown_method_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown method 'munii'; available: muni, muni_hellinger, mvae"):
        METHODS.get("munii")


def test_a_nan_loss_stops_training_with_a_clear_reason(smoke_suite):
    cfg = resolve("gaussian_mixture", "muni", 0, "smoke", ["train.steps=5", "train.warmup_steps=0"])
    method = METHODS.get("muni")(smoke_suite.specs, cfg.model, cfg.flow, cfg.options)
    with torch.no_grad():
        next(method.backbone.decoders["x1"].parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan at step 0"):
        train(method, smoke_suite, cfg.train, torch.device("cpu"))


@pytest.mark.parametrize("name", ["mvae", "mmvae", "mopoe", "muni"])
def test_classic_backbone_trains_and_generates(name, smoke_suite):
    from methods.backbone.modality import GaussianDecoder
    from methods.backbone.prior import StandardNormalPrior

    cfg = resolve("gaussian_mixture", name, 0, "smoke",
                  ["model.backbone=classic", "train.steps=30", "train.log_every=3"])
    method = METHODS.get(name)(smoke_suite.specs, cfg.model, cfg.flow, cfg.options)
    assert isinstance(method.backbone.prior, StandardNormalPrior)
    assert isinstance(method.backbone.decoders["x1"], GaussianDecoder)
    losses = []
    ema, _ = train(method, smoke_suite, cfg.train, torch.device("cpu"),
                   log=lambda terms, step: losses.append(terms["train/loss"]))
    assert len(losses) == 10 and sum(losses[-3:]) < sum(losses[:3])
    assert "prior_kl" in method.loss(next(smoke_suite.train_batches(8, "cpu")))
    assert ema.module.sample_joint(3)["x2"].shape == (3, 60)


def test_unknown_backbone_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown backbone 'fancy'; available: flow, classic"):
        build("muni", model=dataclasses.replace(TINY, backbone="fancy"))


def pairs_only_batch():
    b = batch(8)
    b.present["x3"] = torch.zeros(8, dtype=torch.bool)
    return b


@pytest.mark.parametrize("name", ["mvae", "helvae", "shala"])
def test_methods_that_need_full_tuples_say_so(name):
    with pytest.raises(DataError, match=f"{name} trains on fully observed tuples only"):
        build(name).loss(pairs_only_batch())


@pytest.mark.parametrize("name", ["muni", "muni_hellinger", "mmvae", "mopoe", "mmvae_plus", "unified_latents"])
def test_methods_train_on_pairs_only_data(name):
    method = build(name)
    out = method.loss(pairs_only_batch())
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and "recon/x3" not in out
