"""Verifier metrics on known answers, and the Fréchet distance on verifier features."""
import pytest
import torch
from torch import nn

from metrics.frechet import frechet_distance
from metrics.verifier import agreement, label_accuracy


class Oracle(nn.Module):
    """A verifier that reads the class from the image (its mean) and is wrong on a fixed share of images."""

    def __init__(self, error_rate: float, k: int):
        super().__init__()
        self.error_rate, self.k = error_rate, k

    def forward(self, images):
        label = images.mean((1, 2, 3)).round().long()
        flip = torch.rand(len(label), generator=torch.Generator().manual_seed(1)) < self.error_rate
        return torch.where(flip, (label + 1) % self.k, label)


def test_perfect_generator_scores_the_verifier_accuracy_and_random_one_over_k():
    k, n = 10, 20_000
    verifier = Oracle(error_rate=0.03, k=k)
    labels = torch.randint(0, k, (n,))
    perfect = labels.float()[:, None, None, None].expand(n, 3, 4, 4)  # images that carry their label
    assert label_accuracy(verifier(perfect), labels, k) == pytest.approx(0.97, abs=0.005)
    random = torch.randint(0, k, (n,)).float()[:, None, None, None].expand(n, 3, 4, 4)
    assert label_accuracy(verifier(random), labels, k) == pytest.approx(1 / k, abs=0.01)


def test_agreement_counts_a_row_only_when_every_label_matches():
    digit, quadrant = torch.tensor([1, 2, 3, 4]), torch.tensor([0, 1, 2, 3])
    assert agreement([digit, quadrant], [digit, quadrant]) == 1.0
    assert agreement([digit, quadrant], [torch.tensor([1, 2, 0, 0]), torch.tensor([0, 0, 2, 3])]) == 0.25
    with pytest.raises(ValueError, match="one target per prediction"):
        agreement([digit], [])
    with pytest.raises(ValueError, match="disagree in shape"):
        label_accuracy(digit, digit[:2], 10)


class Identity(nn.Identity):
    num_features = 4


def test_frechet_distance_is_zero_for_identical_sets_and_grows_with_a_shift():
    torch.manual_seed(0)
    real = torch.randn(4000, 4)
    assert frechet_distance(real, real.clone(), Identity()) == pytest.approx(0.0, abs=1e-3)
    small = frechet_distance(real, real + 0.5, Identity())
    large = frechet_distance(real, real + 1.0, Identity())
    assert small == pytest.approx(4 * 0.25, rel=0.02) and large == pytest.approx(4 * 1.0, rel=0.02)


