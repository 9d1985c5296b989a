"""The classic backbone's Gaussian decoder: σ at its closed-form optimum, and the evaluation convention."""
import dataclasses

import pytest
import torch

from methods.backbone.modality import MIN_VARIANCE, GaussianDecoder, ModalitySpec, set_gaussian_output
from tests.methods.helpers import TINY

SPEC = ModalitySpec("x", "vector", (5,))


def decoder(scale: str) -> GaussianDecoder:
    torch.manual_seed(0)
    return GaussianDecoder(SPEC, 3, dataclasses.replace(TINY, backbone="classic", decoder_scale=scale))


def data(n: int = 256):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 5, generator=g) * torch.tensor([0.01, 0.1, 1.0, 2.0, 0.3]), torch.randn(n, 3, generator=g)


def test_optimal_scale_is_the_likelihood_maximiser_and_gives_the_means_the_gradient_at_that_scale():
    x, cond = data()
    optimal, learned = decoder("optimal"), decoder("learned")
    learned.mean.load_state_dict(optimal.mean.state_dict())
    loss = optimal.loss(x, cond).mean()
    residual = (x - optimal.mean(cond)).detach()
    assert torch.allclose(optimal.variance, residual.square().mean(0))
    for shift in (-0.3, 0.0, 0.3):  # any other σ has a higher negative log-likelihood
        with torch.no_grad():
            learned.log_std.copy_(0.5 * optimal.variance.log() + shift)
        other = learned.loss(x, cond).mean()
        assert other >= loss - 1e-5 if shift else torch.isclose(other, loss, rtol=1e-5)
    loss.backward()
    with torch.no_grad():
        learned.log_std.copy_(0.5 * optimal.variance.log())
    learned.zero_grad()
    learned.loss(x, cond).mean().backward()
    for mine, theirs in zip(optimal.mean.parameters(), learned.mean.parameters()):
        assert torch.allclose(mine.grad, theirs.grad, rtol=1e-4, atol=1e-7)


def test_optimal_scale_keeps_a_floor_and_only_training_updates_it():
    dec = decoder("optimal")
    x, cond = data()
    dec.eval()
    dec.loss(x, cond)
    assert torch.equal(dec.variance, torch.ones(5))
    dec.train()
    with torch.no_grad():
        perfect = dec.mean(cond)
    dec.loss(perfect, cond)
    assert torch.equal(dec.variance, torch.full((5,), MIN_VARIANCE))
    assert [name for name, _ in dec.named_parameters() if "log_std" in name] == []


@pytest.mark.parametrize("scale", ["optimal", "learned"])
def test_gaussian_output_samples_around_the_means_with_sigma_or_returns_the_means(scale):
    dec = decoder(scale)
    x, cond = data()
    dec.loss(x, cond)
    cond = cond[:1].expand(20_000, 3)
    with torch.no_grad():
        mean = dec.mean(cond)
        set_gaussian_output(dec, "means")
        assert torch.equal(dec.sample(cond, 1), mean)
        set_gaussian_output(dec, "samples")
        spread = (dec.sample(cond, 1) - mean).std(0)
    assert torch.allclose(spread, dec.std, rtol=0.05)


def test_unknown_gaussian_output_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown Gaussian decoder output 'modes'; available: samples, means"):
        set_gaussian_output(decoder("optimal"), "modes")
