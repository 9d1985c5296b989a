"""The audio judges (VGGish, Wav2CLIP): randomly initialised, saved the way their public checkpoints are, loaded back
strictly; their state dicts against the public checkpoints' key lists; their front ends on known answers."""
import io

import numpy as np
import pytest
import torch

from metrics.media.audio_judges import VGGish, Wav2Clip, hertz_to_mel, vggish_examples, vggish_mel_matrix
from metrics.media.judges import MissingWeights

# vggish-10086976.pth (harritaylor/torchvggish): VGG(make_layers()) with `features` convs at indices 0, 3, 6, 8, 11, 13
# (ReLUs and max-pools between) and `embeddings` Linears at 0, 2, 4.
VGGISH_KEYS = {
    "features.0.weight": (64, 1, 3, 3), "features.0.bias": (64,),
    "features.3.weight": (128, 64, 3, 3), "features.3.bias": (128,),
    "features.6.weight": (256, 128, 3, 3), "features.6.bias": (256,),
    "features.8.weight": (256, 256, 3, 3), "features.8.bias": (256,),
    "features.11.weight": (512, 256, 3, 3), "features.11.bias": (512,),
    "features.13.weight": (512, 512, 3, 3), "features.13.bias": (512,),
    "embeddings.0.weight": (4096, 12288), "embeddings.0.bias": (4096,),
    "embeddings.2.weight": (4096, 4096), "embeddings.2.bias": (4096,),
    "embeddings.4.weight": (128, 4096), "embeddings.4.bias": (128,),
}


def batch_norm(prefix: str, n: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (n,), f"{prefix}.bias": (n,), f"{prefix}.running_mean": (n,),
            f"{prefix}.running_var": (n,), f"{prefix}.num_batches_tracked": ()}


def wav2clip_keys() -> dict[str, tuple[int, ...]]:
    """Wav2CLIP.pt's audio entries (descriptinc/lyrebird-wav2clip): `audio_encoder` is its ResNet(BasicBlock,
    [2, 2, 2, 2]) on one channel, no fc, with torchaudio's Spectrogram(n_fft=512) window buffer; `audio_transform` is
    MLPLayers([512, 512, 512]), Linears at sequential.0 and sequential.3."""
    e = "audio_encoder"
    keys = {f"{e}.spectrogram.window": (512,), f"{e}.conv1.weight": (64, 1, 7, 7), **batch_norm(f"{e}.bn1", 64)}
    inplanes = 64
    for layer, planes in enumerate((64, 128, 256, 512), 1):
        for block in range(2):
            p = f"{e}.layer{layer}.{block}"
            keys |= {f"{p}.conv1.weight": (planes, inplanes, 3, 3), **batch_norm(f"{p}.bn1", planes),
                     f"{p}.conv2.weight": (planes, planes, 3, 3), **batch_norm(f"{p}.bn2", planes)}
            if inplanes != planes:
                keys |= {f"{p}.downsample.0.weight": (planes, inplanes, 1, 1),
                         **batch_norm(f"{p}.downsample.1", planes)}
            inplanes = planes
    for i in (0, 3):
        keys |= {f"audio_transform.sequential.{i}.weight": (512, 512), f"audio_transform.sequential.{i}.bias": (512,)}
    return keys


def shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def tone(hertz: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hertz * np.arange(int(seconds * rate)) / rate)


def sounds(rate: int, seconds: float = 2.0) -> torch.Tensor:
    """Two clips of a few partials each, phases fixed, so the same sounds can be made at any rate."""
    clips = [sum(tone(f, seconds, rate, 0.2) for f in (300.0, 1000.0, 3100.0)),
             sum(tone(f, seconds, rate, 0.3) for f in (440.0, 2500.0, 6000.0))]
    return torch.tensor(np.stack(clips), dtype=torch.float32)


@pytest.fixture(scope="module")
def vggish(tmp_path_factory) -> tuple[VGGish, str]:
    torch.manual_seed(0)
    model = VGGish().eval()
    path = tmp_path_factory.mktemp("vggish") / "vggish-10086976.pth"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)  # the 2019 checkpoint's format
    return model, str(path)


@pytest.fixture(scope="module")
def wav2clip(tmp_path_factory) -> tuple[Wav2Clip, str]:
    torch.manual_seed(1)
    model = Wav2Clip().eval()
    for m in model.modules():  # non-trivial running statistics, so eval-mode batch norm is exercised
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    released = dict(model.state_dict())  # the release also holds the image-side transform and the loss scales
    released |= {"image_transform.sequential.0.weight": torch.zeros(512, 512), "loss_fn_a.logit_scale": torch.ones(())}
    path = tmp_path_factory.mktemp("wav2clip") / "Wav2CLIP.pt"
    torch.save(released, path)
    return model, str(path)


def test_vggish_state_dict_has_the_keys_of_the_torchvggish_checkpoint(vggish):
    assert shapes(vggish[0]) == VGGISH_KEYS
    with torch.device("meta"):
        assert shapes(VGGish(activation=True)) == VGGISH_KEYS  # the final ReLU holds no weights


def test_vggish_loads_back_strictly_with_identical_embeddings(vggish):
    model, path = vggish
    loaded = VGGish.load(path)
    clips = sounds(16_000)
    out = loaded(clips)
    assert out.shape == (2, 128) and loaded.num_features == 128 and loaded.name == "vggish-10086976"
    assert torch.equal(out, model(clips))
    per_example = loaded.example_embeddings(clips)
    assert [e.shape for e in per_example] == [(2, 128), (2, 128)]
    assert torch.allclose(out, torch.stack([e.mean(0) for e in per_example]))


def test_vggish_front_end_known_answers():
    assert hertz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.01)  # HTK's mel scale is built to put 1 kHz at 1000
    mel = vggish_mel_matrix()
    hertz = np.linspace(0, 8000, 257)
    assert mel.shape == (257, 64) and mel.max() <= 1.0 and (mel[0] == 0).all()
    assert (mel[(hertz <= 125) | (hertz >= 7500)] == 0).all()
    centers = 700 * np.expm1(np.linspace(1127 * np.log1p(125 / 700), 1127 * np.log1p(7500 / 700), 66)[1:-1] / 1127)
    inner = (hertz >= centers[0]) & (hertz <= centers[-1])
    assert mel[inner].sum(1) == pytest.approx(1.0)  # adjacent triangles are complementary, with no area normalisation

    assert vggish_examples(tone(1000, 1.0, 16_000)).shape == (1, 96, 64)
    assert vggish_examples(tone(1000, 3.0, 16_000)).shape == (3, 96, 64)
    assert vggish_examples(tone(1000, 0.5, 16_000)).shape == (1, 96, 64)  # zero-padded to one example
    log_mel = vggish_examples(tone(1000, 2.0, 16_000))
    assert log_mel.mean((0, 1)).argmax() == np.abs(centers - 1000).argmin()
    assert log_mel.min() >= np.log(0.01)

    high = vggish_examples(tone(1000, 2.0, 48_000), 48_000)
    assert high.shape == log_mel.shape and np.abs(high - log_mel).max() < 0.01


def test_vggish_at_48_khz_matches_16_khz(vggish):
    model = vggish[0]
    model.rate = 48_000
    try:
        high = model(sounds(48_000))
    finally:
        model.rate = 16_000
    low = model(sounds(16_000))
    assert torch.allclose(high, low, rtol=1e-3, atol=1e-3 * low.abs().max().item())


def test_vggish_pca_postprocessing_matches_torchvggish(vggish, tmp_path):
    model, path = vggish
    g = np.random.default_rng(0)
    vectors, means = g.normal(size=(128, 128)) * 50, g.normal(size=128) * 0.01
    buffer = io.BytesIO()  # numpy arrays pickled by numpy 1, as torchvggish's vggish_pca_params-970ea276.pth
    torch.save({"pca_eigen_vectors": vectors, "pca_means": means}, buffer, _use_new_zipfile_serialization=False)
    (tmp_path / "pca.pth").write_bytes(buffer.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    loaded = VGGish.load(path, pca=tmp_path / "pca.pth")
    assert loaded.name == "vggish-10086976+pca"
    clips = sounds(16_000)
    raw = torch.cat(model.example_embeddings(clips)).double()
    rotated = (torch.from_numpy(vectors) @ (raw.t() - torch.from_numpy(means)[:, None])).t()
    expected = torch.round((rotated.clamp(-2, 2) + 2) * 255 / 4)
    got = torch.cat(loaded.example_embeddings(clips))
    assert (got - expected).abs().max() <= 1  # float32 rounding may move a value across a quantisation step
    assert ((got >= 0) & (got <= 255) & (got == got.round())).all()


def test_wav2clip_state_dict_has_the_keys_of_the_released_checkpoint(wav2clip):
    assert shapes(wav2clip[0]) == wav2clip_keys()


def test_wav2clip_loads_back_strictly_with_identical_embeddings(wav2clip, tmp_path):
    model, path = wav2clip
    loaded = Wav2Clip.load(path)
    clips = sounds(16_000, seconds=1.0)
    out = loaded(clips)
    assert out.shape == (2, 512) and loaded.num_features == 512 and loaded.name == "Wav2CLIP"
    assert torch.equal(out, model(clips))
    assert torch.allclose(loaded(clips[1:]), out[1:], atol=1e-5)  # a clip's embedding does not depend on its batch
    partial = {k: v for k, v in model.state_dict().items() if not k.startswith("audio_transform")}
    torch.save(partial, tmp_path / "encoder_only.pt")
    with pytest.raises(RuntimeError, match="audio_transform"):
        Wav2Clip.load(tmp_path / "encoder_only.pt")


def test_wav2clip_front_end_known_answers(wav2clip):
    spectrogram = wav2clip[0].audio_encoder.spectrogram
    power = spectrogram(torch.tensor(tone(1000, 1.0, 16_000), dtype=torch.float32)[None])[0]
    assert power.shape == (257, 1 + 16_000 // 353)  # centred frames every 353 samples
    middle = power[:, 10:-10]
    assert (middle.argmax(0) == 32).all()  # 1 kHz is bin 32 of a 512-point FFT at 16 kHz
    assert middle[32] == pytest.approx((0.5 * 256 / 2) ** 2, rel=1e-4)  # |X| = A * sum(periodic Hann) / 2


def test_wav2clip_at_48_khz_matches_16_khz(wav2clip):
    model = wav2clip[0]
    model.rate = 48_000
    try:
        high = model(sounds(48_000, seconds=1.0))
    finally:
        model.rate = 16_000
    low = model(sounds(16_000, seconds=1.0))
    assert torch.allclose(high, low, rtol=1e-2, atol=1e-2 * low.abs().max().item())


def test_missing_files_raise_missing_weights_naming_the_path(tmp_path, vggish):
    for load in (VGGish.load, Wav2Clip.load):
        with pytest.raises(MissingWeights, match="nowhere.pt"):
            load(tmp_path / "nowhere.pt")
        with pytest.raises(MissingWeights):
            load(None)
    with pytest.raises(MissingWeights, match="no_pca.pth"):
        VGGish.load(vggish[1], pca=tmp_path / "no_pca.pth")
