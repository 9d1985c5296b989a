import numpy as np
import pytest
import torch

from metrics import METRICS
from metrics.alignment import shared_mse
from metrics.sliced_wasserstein import SlicedWasserstein


def test_swd_of_a_pure_shift_is_the_shift_norm_over_sqrt_d():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10_000, 16))
    swd = SlicedWasserstein(16, 128, seed=0)
    assert swd(x, x + 0.5) == pytest.approx(0.5, rel=0.05)
    assert swd(x, x) == 0.0
    assert swd(x, rng.standard_normal((10_000, 16))) < 0.05


def test_swd_uses_fixed_projections():
    a, b = SlicedWasserstein(8, 128, seed=3), SlicedWasserstein(8, 128, seed=3)
    np.testing.assert_array_equal(a.projections, b.projections)
    x, y = np.random.rand(100, 8), np.random.rand(100, 8) + 1
    assert a(x, y) == b(x, y)
    with pytest.raises(ValueError, match="expected 8-dimensional"):
        a(np.zeros((10, 7)), np.zeros((10, 7)))


def test_shared_mse_known_answers():
    x = torch.randn(50, 6)
    assert shared_mse(x, x) == 0.0
    assert shared_mse(x, x + 2) == pytest.approx(4.0)


def test_a_better_sample_scores_better_in_the_direction_each_metric_declares():
    """Scoring the truth against a corrupted copy must move every metric the way it says is better."""
    from metrics import embedding
    from metrics.frechet import frechet_distance
    from metrics.verifier import agreement, label_accuracy

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 8))
    swd = SlicedWasserstein(8, 64, seed=0)
    truth = torch.from_numpy(x).float()
    labels = torch.from_numpy(rng.integers(0, 10, 2000))
    noisy_labels = torch.where(torch.rand(2000) < 0.5, torch.randint(0, 10, (2000,)), labels)
    images = torch.rand(200, 3, 8, 8)

    class Flat(torch.nn.Module):
        num_features = 192

        def forward(self, batch):
            return batch.flatten(1).float()

    scores = {  # (score of the truth, score of a corrupted copy)
        "sliced_wasserstein": (swd(x, rng.standard_normal((2000, 8))), swd(x, x + 1.0)),
        "alignment_mse": (shared_mse(truth, truth), shared_mse(truth, truth + 0.5)),
        "coherence_mse": (shared_mse(truth, truth), shared_mse(truth, truth.flip(0))),
        "verifier_accuracy": (label_accuracy(labels, labels, 10), label_accuracy(noisy_labels, labels, 10)),
        "verifier_coherence": (agreement([labels], [labels]), agreement([noisy_labels], [labels])),
        "verifier_frechet": (frechet_distance(images, torch.rand(200, 3, 8, 8), Flat()),
                             frechet_distance(images, (images + 0.5).clamp(0, 1), Flat())),
    }
    shuffled = truth[torch.randperm(2000)]
    judge = embedding.KernelJudge(truth[:1000], 2 * truth[:1000])
    draws = torch.from_numpy(rng.standard_normal((2000, 8))).float()
    repeated = truth[:500].repeat_interleave(4, 0)  # a deterministic generator: four equal draws per source
    scores |= {
        "reference_cosine": (embedding.reference_cosine(truth, truth), embedding.reference_cosine(shuffled, truth)),
        "reference_win_rate": (embedding.reference_win_rate(truth, truth),
                               embedding.reference_win_rate(shuffled, truth)),
        "recall_at_k": (embedding.recall_at_k(truth, truth), embedding.recall_at_k(shuffled, truth)),
        "embedding_frechet": (embedding.frechet_distance(draws, truth), embedding.frechet_distance(truth + 1, truth)),
        "diversity": (embedding.diversity(draws, truth, 4), embedding.diversity(repeated, repeated, 4)),
        "judge_win_rate": (judge.win_rate(truth[1000:], 2 * truth[1000:]),
                           judge.win_rate(truth[1000:], shuffled[1000:])),
    }
    from metrics.media import captions
    from metrics.media import scores as media

    def distance(real, made, key="value"):
        return media.feature_distances(real, made, "fd", "test", 100)[key]

    references = [["a dog runs on grass"], ["two cats sleep"], ["a man rides a bike"]]
    scores |= {
        "clip_score": (media.clip_score(truth, truth)["value"], media.clip_score(shuffled, truth)["value"]),
        "clap_score": (media.clap_score(truth, truth)["value"], media.clap_score(shuffled, truth)["value"]),
        "audio_image_score": (media.audio_image_score(truth, truth)["value"],
                              media.audio_image_score(shuffled, truth)["value"]),
        **{name: (distance(truth, draws), distance(truth, truth + 1.0)) for name in ("fid", "fd_clip", "fad")},
        "kid": (distance(truth, draws, "kid"), distance(truth, truth + 1.0, "kid")),
        "cider_d": (captions.cider_d([r[0] for r in references], references, "python")["value"],
                    captions.cider_d(["blue", "the market", "a banana"], references, "python")["value"]),
    }
    assert set(scores) == set(METRICS.names())  # a new metric joins this test
    real = {"diversity": 1.0}  # "match" metrics: the real data's value (independent real draws: their own spread)
    for name, (good, bad) in scores.items():
        ideal = METRICS.get(name).ideal
        if ideal == "match":
            assert abs(good - real[name]) < abs(bad - real[name]), name
        else:
            assert (good > bad) == (ideal == "higher"), name


def test_the_verifier_frechet_distance_equals_torchmetrics_fid_on_the_same_features():
    from torchmetrics.image.fid import FrechetInceptionDistance

    from metrics.frechet import frechet_distance

    class Features(torch.nn.Module):
        num_features = 6

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3 * 4 * 4, 6)

        def forward(self, images):
            return self.linear(images.float().flatten(1) / 255.0)

    generator = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (300, 3, 4, 4), dtype=torch.uint8, generator=generator)
    made = (real.float() * 0.7 + 40).to(torch.uint8)
    features = Features().eval()
    reference = FrechetInceptionDistance(feature=features)
    reference.update(real, real=True)
    reference.update(made, real=False)
    assert frechet_distance(real, made, features) == pytest.approx(float(reference.compute()), rel=1e-4)
