"""ClapJudge.from_laion against the laion_clap package itself: a LAION-CLAP model of the real architecture (HTSAT-tiny
audio branch without fusion, a one-layer RoBERTa of width 768 as the text branch), randomly initialised offline and
saved as a LAION checkpoint file, must give the same normalised embeddings through the judge as through
laion_clap. laion_clap is a test-only dependency (pip install --no-deps laion-clap==1.1.7 plus librosa,
torchlibrosa, ftfy, braceexpand, webdataset, wget, h5py, resampy, soundfile, regex); it imports torchvision and
encodec names it never uses here, so they are stubbed during the import only."""
import contextlib
import sys
import types
from unittest import mock

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")  # the `media` extra

from tests.metrics.tiny_judges import byte_vocabulary  # noqa: E402

CAPTIONS = ["a dog barks twice", "rain on a tin roof", "an engine starts in the cold"]


@contextlib.contextmanager
def stub_torchvision_encodec():
    """Empty stand-ins for the torchvision and encodec names laion_clap imports, removed again afterwards so that
    transformers and torchmetrics still see no torchvision."""
    import torchmetrics  # noqa: F401  (their availability probes must run before the stubs exist)
    import transformers  # noqa: F401

    modules = {name: types.ModuleType(name) for name in
               ["torchvision", "torchvision.ops", "torchvision.ops.misc", "torchvision.transforms",
                "torchvision.datasets", "encodec"]}
    modules["torchvision"].__path__, modules["torchvision.ops"].__path__ = [], []
    modules["torchvision.ops.misc"].FrozenBatchNorm2d = type("FrozenBatchNorm2d", (torch.nn.Module,), {})
    for name in ["Normalize", "Compose", "RandomResizedCrop", "InterpolationMode", "ToTensor", "Resize", "CenterCrop"]:
        setattr(modules["torchvision.transforms"], name, type(name, (), {}))
    modules["encodec"].EncodecModel = None
    added = {k: v for k, v in modules.items() if k not in sys.modules}
    sys.modules.update(added)
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def byte_tokenizer():
    from transformers import RobertaTokenizer

    return RobertaTokenizer(vocab=byte_vocabulary(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], end_of_word=False),
                            merges=[])


@pytest.fixture(scope="module")
def laion(tmp_path_factory):
    """laion_clap's CLAP_Module (HTSAT-tiny, RoBERTa), its checkpoint file as training writes it (DDP `module.`
    prefix, the `position_ids` buffer older transformers saved) and a transformers config directory for it."""
    from transformers import (
        BartTokenizer,
        BertTokenizer,
        ClapAudioConfig,
        ClapConfig,
        ClapTextConfig,
        RobertaConfig,
        RobertaModel,
        RobertaTokenizer,
    )

    tokenizer = byte_tokenizer()
    # the hub is never asked: laion_clap loads three tokenizers at import and roberta-base at construction
    offline = [mock.patch.object(c, "from_pretrained", lambda *a, **k: tokenizer)
               for c in (BertTokenizer, RobertaTokenizer, BartTokenizer)]
    roberta = RobertaConfig(vocab_size=len(tokenizer), hidden_size=768, num_hidden_layers=1, num_attention_heads=12,
                            intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                            layer_norm_eps=1e-5, pad_token_id=tokenizer.pad_token_id)  # roberta-base's epsilon
    offline.append(mock.patch.object(RobertaModel, "from_pretrained", lambda *a, **k: RobertaModel(roberta)))
    with contextlib.ExitStack() as stack:
        for patch in offline:
            stack.enter_context(patch)
        try:
            with stub_torchvision_encodec():
                import laion_clap
        except ImportError as error:
            pytest.skip(f"laion_clap, a test-only dependency, cannot be imported ({error})")
        torch.manual_seed(0)
        module = laion_clap.CLAP_Module(enable_fusion=False, amodel="HTSAT-tiny", tmodel="roberta", device="cpu")
    module.eval()
    with torch.no_grad():  # a fresh BatchNorm is the identity: give the mel normalisation something to do
        module.model.audio_branch.bn0.running_mean.uniform_(-60.0, -20.0)
        module.model.audio_branch.bn0.running_var.uniform_(100.0, 400.0)

    root = tmp_path_factory.mktemp("laion")
    state = {"module." + k: v for k, v in module.model.state_dict().items()}
    state["module.text_branch.embeddings.position_ids"] = torch.arange(514).expand(1, -1)
    torch.save({"epoch": 3, "name": "random", "state_dict": state}, root / "clap.pt")

    text = ClapTextConfig(vocab_size=len(tokenizer), hidden_size=768, num_hidden_layers=1, num_attention_heads=12,
                          intermediate_size=3072, max_position_embeddings=514, pad_token_id=tokenizer.pad_token_id,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    audio = ClapAudioConfig(patch_embeds_hidden_size=96, depths=[2, 2, 6, 2], num_attention_heads=[4, 8, 16, 32],
                            window_size=8, spec_size=256, num_mel_bins=64, hidden_size=768, enable_fusion=False)
    ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=512).save_pretrained(
        root / "config")
    tokenizer.save_pretrained(root / "config")
    return module, root


@pytest.fixture(scope="module")
def judge(laion):
    from metrics.media.judges import ClapJudge

    _, root = laion
    return ClapJudge.load(root / "clap.pt", root / "config")


def clips() -> np.ndarray:
    """Three clips of at most LAION's 10 s (longer ones are cropped at random), one loud enough to clip in int16."""
    rng, t = np.random.default_rng(0), np.arange(96_000) / 48_000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 2000 * t) * t)
    return np.stack([tone, chirp, 0.6 * rng.standard_normal(t.size)]).astype(np.float32)


def test_audio_embeddings_equal_laion_clap(laion, judge):
    module, _ = laion
    waves = clips()
    theirs = torch.from_numpy(module.get_audio_embedding_from_data(waves))
    ours = judge(torch.from_numpy(waves))
    assert ours.shape == theirs.shape == (3, 512) == (3, judge.num_features)
    assert torch.allclose(ours.norm(dim=1), torch.ones(3), atol=1e-5)
    assert (ours - theirs).abs().max() < 1e-5  # measured 2.8e-6; without LAION's int16 round trip 4.4e-3


def test_text_embeddings_equal_laion_clap_given_the_same_tokens(laion, judge):
    module, _ = laion

    def tokens(texts: list[str]):  # LAION's own call (CLAP_Module.tokenizer), on the judge's tokenizer
        return judge.processor.tokenizer(texts, padding="max_length", truncation=True, max_length=77,
                                         return_tensors="pt")

    theirs = torch.from_numpy(module.get_text_embedding(CAPTIONS, tokenizer=tokens))
    ours = judge.texts(CAPTIONS)
    assert ours.shape == theirs.shape == (3, 512)
    assert (ours - theirs).abs().max() < 1e-6  # measured 6e-8; with ClapTextConfig's layer_norm_eps 1e-12, 1.9e-5
    assert judge.max_tokens == 77


def test_the_front_end_is_laions_mel_spectrogram(laion, judge):
    """The feature extractor's log-mel of padded 10 s clips equals LAION's torchlibrosa front end (STFT as a
    convolution, librosa's Slaney mel bank from 50 Hz to 14 kHz, 10·log10 with floor 1e-10)."""
    module, _ = laion
    config, extractor = module.model_cfg["audio_cfg"], judge.processor.feature_extractor
    assert (extractor.sampling_rate, extractor.nb_max_samples, extractor.fft_window_size, extractor.hop_length,
            extractor.feature_size, extractor.frequency_min, extractor.frequency_max) == \
        (config["sample_rate"], config["clip_samples"], config["window_size"], config["hop_size"],
         config["mel_bins"], config["fmin"], config["fmax"])
    assert (extractor.truncation, extractor.padding, extractor.top_db) == ("rand_trunc", "repeatpad", None)
    branch = module.model.audio_branch
    assert np.allclose(extractor.mel_filters_slaney, branch.logmel_extractor.melW.numpy(), atol=1e-7)
    for clip in clips():
        wave = np.resize(clip, 480_000)  # the repeat-padding both apply, done here
        with torch.no_grad():
            theirs = branch.logmel_extractor(branch.spectrogram_extractor(torch.from_numpy(wave)[None]))[0, 0].numpy()
        ours = extractor(wave, sampling_rate=48_000, return_tensors="np")["input_features"][0, 0]
        assert ours.shape == theirs.shape == (1001, 64)
        # a float64 FFT against a float32 convolution: the latter's rounding shows in bands far below the frame's
        # loudest (up to 0.05 dB at the -100 dB floor)
        loud = theirs > theirs.max(axis=1, keepdims=True) - 60.0
        assert np.abs(ours - theirs)[loud].max() < 1e-3 and np.abs(ours - theirs).max() < 0.1


def test_conversion_splits_the_fused_attention_and_loads_strictly(laion, tmp_path):
    from metrics.media.judges import ClapJudge, MissingWeights, laion_clap_state_dict

    module, root = laion
    state = module.model.state_dict()
    converted = laion_clap_state_dict(state)
    qkv = state["audio_branch.layers.2.blocks.1.attn.qkv.weight"]
    prefix = "audio_model.audio_encoder.layers.2.blocks.1.attention.self."
    assert torch.equal(torch.cat([converted[prefix + p + ".weight"] for p in ("query", "key", "value")]), qkv)
    assert torch.equal(converted["audio_projection.linear2.bias"], state["audio_projection.2.bias"])
    assert not any(k.startswith(("text_transform", "audio_transform")) or "logmel" in k for k in converted)

    state["audio_branch.layers.0.blocks.0.attn.spare.weight"] = torch.zeros(1)
    del state["text_branch.pooler.dense.bias"]
    torch.save({"state_dict": state}, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match=r"missing \['text_model.pooler.dense.bias'\], unexpected "
                                         r"\['audio_model.audio_encoder.layers.0.blocks.0.attention.self.spare"):
        ClapJudge.from_laion(tmp_path / "broken.pt", root / "config")
    with pytest.raises(MissingWeights, match=str(tmp_path / "absent.pt")):
        ClapJudge.from_laion(tmp_path / "absent.pt", root / "config")
    with pytest.raises(MissingWeights, match="clap_config"):
        ClapJudge.load(root / "clap.pt")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "config.json").write_bytes((root / "config" / "config.json").read_bytes())
    with pytest.raises(MissingWeights, match="tokenizer"):
        ClapJudge.load(root / "clap.pt", tmp_path / "bare")
    from tests.metrics.tiny_judges import tiny_clap

    assert ClapJudge.load(tiny_clap(tmp_path)).name == "clap"  # a directory is a transformers save_pretrained
