"""The media metrics on known answers, and their judges loaded back from tiny models of the real architectures
saved to a temporary directory (no downloads)."""
import shutil

import numpy as np
import pytest
import torch

from metrics.media.captions import cider_d, python_tokens
from metrics.media.scores import audio_image_score, clap_score, feature_distances

pytest.importorskip("transformers")  # the `media` extra; CI installs it


def test_clap_score_is_100_cos_of_the_pairs():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    b = torch.tensor([[1.0, 1.0], [0.0, 1.0], [-1.0, -1.0]])
    assert clap_score(a, a)["value"] == pytest.approx(100.0)
    assert clap_score(a, b)["value"] == pytest.approx(100 * (2 ** -0.5 + 1.0 - 1.0) / 3)


def test_audio_image_score_is_100_for_a_perfect_judge_and_about_50_for_a_random_one():
    g = torch.Generator().manual_seed(0)
    image = torch.randn(400, 32, generator=g)
    assert audio_image_score(image + 0.01 * torch.randn(400, 32, generator=g), image)["value"] == 100.0
    random = audio_image_score(torch.randn(400, 32, generator=g), image)
    assert random["value"] == pytest.approx(50.0, abs=2.0)
    assert random["pool"] == 399 and random["shuffled"] == "image"


def test_feature_distances_match_the_closed_form_for_gaussians_and_kid_is_zero_for_one_distribution():
    g = torch.Generator().manual_seed(1)
    scale = torch.tensor([1.0, 2.0, 0.5, 1.5])
    real = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    moved = torch.randn(20000, 4, generator=g, dtype=torch.float64) * scale + 0.5
    closed = float(4 * 0.25 + ((scale - 1.0) ** 2).sum())  # ||Δμ||² + Σ(√σ₁² - √σ₂²)², diagonal covariances
    result = feature_distances(real, moved, "fad", "test", reference_n=1000)
    assert result["value"] == pytest.approx(closed, rel=0.03) and result["comparable"]
    same = feature_distances(real[:2000], torch.randn(2000, 4, generator=g, dtype=torch.float64), "fad", "test", 5000)
    assert abs(same["kid"]) < 0.01 < result["kid"] and not same["comparable"]


REFERENCES = [["A dog runs on the grass.", "a brown dog running"], ["Two cats sleep on a sofa!", "cats sleeping"],
              ["a man rides a bike", "a cyclist on a road"]]


def test_cider_d_ranks_a_copy_above_a_paraphrase_above_an_unrelated_caption():
    copy = cider_d(["a dog runs on the grass", "two cats sleep on a sofa", "a man rides a bike"], REFERENCES, "python")
    close = cider_d(["a dog running on grass", "two cats sleeping", "a man riding a bike"], REFERENCES, "python")
    unrelated = cider_d(["a banana", "the stock market", "blue"], REFERENCES, "python")
    assert copy["value"] > close["value"] > unrelated["value"] == 0.0
    assert cider_d(["a dog running on grass", "two cats sleeping", "a banana"], REFERENCES, "python")["value"] == \
        pytest.approx(168.79174965336574)  # pycocoevalcap 1.2 on this frozen toy corpus


@pytest.mark.skipif(shutil.which("java") is None, reason="the PTB tokenizer needs a Java runtime")
def test_the_python_tokenizer_agrees_with_ptb_on_plain_captions():
    captions = ["A dog's toy, isn't it?", "Two cats -- sleeping on a sofa!", "a man rides a bike."]
    generated = cider_d(captions, REFERENCES, "ptb")
    assert generated["tokenizer"] == "ptb"
    assert generated["per_item"] == pytest.approx(cider_d(captions, REFERENCES, "python")["per_item"])
    assert python_tokens("A dog's toy, isn't it?") == "a dog 's toy is n't it"


@pytest.fixture(scope="module")
def judges(tmp_path_factory):
    from metrics.media.judges import ClapJudge, ClipJudge
    from tests.metrics.tiny_judges import tiny_clap, tiny_clip

    root = tmp_path_factory.mktemp("judges")
    return ClipJudge(tiny_clip(root)), ClapJudge(tiny_clap(root), rate=16000), root


def test_clip_score_on_embeddings_equals_torchmetrics_clip_score_on_pixels_and_captions(judges):
    from torchmetrics.multimodal.clip_score import CLIPScore

    from metrics.media.scores import clip_score

    clip, _, _ = judges
    images = torch.randint(0, 256, (4, 3, 40, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    captions = ["a dog", "two cats on a sofa", "a red car", "birds over the sea"]

    def both() -> tuple[float, float]:
        reference = CLIPScore(model_name_or_path=lambda: (clip.model, clip.processor))
        reference.update(list(images), captions)
        return clip_score(clip(images), clip.texts(captions))["value"], float(reference.compute())

    projection = clip.model.text_projection.weight
    with torch.no_grad():
        ours, theirs = both()
        if ours == 0.0:
            projection *= -1.0  # flipping the text projection flips every cosine: a case where the clamp is idle
            ours, theirs = both()
            projection *= -1.0
    assert ours > 0 and ours == pytest.approx(theirs, rel=1e-4)
    assert clip_score(torch.eye(3), -torch.eye(3))["value"] == 0.0  # the clamp of the mean (torchmetrics)


def test_judges_load_back_from_disk_with_real_tokenizers_and_embed_each_modality(judges):
    from metrics.media.judges import ClipJudge

    clip, clap, root = judges
    assert len(clip.processor.tokenizer) > 100 and len(clap.processor.tokenizer) > 100
    again = ClipJudge(root / "clip")
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert torch.equal(again(images), clip(images)) and clip(images).shape == (2, clip.num_features)
    tone = torch.sin(2 * np.pi * 440 * torch.arange(16000) / 16000)
    audio = clap(torch.stack([tone, tone, torch.randn(16000)]))
    assert audio.shape == (3, clap.num_features) and torch.allclose(audio[0], audio[1])
    assert clap.texts(["a dog barks", "rain"]).shape == (2, clap.num_features)


def test_a_missing_model_or_an_empty_tokenizer_is_missing_weights_naming_the_path(judges, tmp_path):
    from metrics.media.judges import ClipJudge, MissingWeights, inception

    with pytest.raises(MissingWeights, match=str(tmp_path / "nowhere")):
        ClipJudge(tmp_path / "nowhere")
    _, _, root = judges
    broken = tmp_path / "clip"
    shutil.copytree(root / "clip", broken)
    (broken / "tokenizer.json").unlink()
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        (broken / name).unlink(missing_ok=True)
    with pytest.raises((MissingWeights, OSError, ValueError, TypeError)):
        ClipJudge(broken)
    with pytest.raises(MissingWeights, match="no weights file"):
        inception(tmp_path / "pt_inception.pth")
    assert inception(None) is None


def test_the_media_extra_imports_beside_torchmetrics():
    import diffusers  # noqa: F401
    import pycocoevalcap.cider.cider  # noqa: F401
    import torchmetrics  # noqa: F401
    import transformers  # noqa: F401
    from diffusers import AudioLDMPipeline, StableUnCLIPImg2ImgPipeline  # noqa: F401
    from torchmetrics.multimodal.clip_score import CLIPScore  # noqa: F401
