"""The media decoders loaded back from tiny models of the real architectures saved to a temporary directory (no
downloads): output types, shapes and ranges, the pipelines' conventions they rely on, and MissingWeights for
missing paths."""
import ast
import re
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")  # the `media` extra; CI installs it
pytest.importorskip("diffusers")

from metrics.media.judges import MissingWeights  # noqa: E402
from tasks.image_text_audio.decoders import AudioDecoder, ImageDecoder, PrefixProjector, TextDecoder  # noqa: E402
from tests.tasks.tiny_decoders import (  # noqa: E402
    AUDIO_DIM,
    IMAGE_DIM,
    TEXT_DIM,
    tiny_audioldm,
    tiny_gemma,
    tiny_prefix_projector,
    tiny_unclip,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("decoders")
    return {"unclip": tiny_unclip(root), "audioldm": tiny_audioldm(root), "gemma": tiny_gemma(root),
            "projector": tiny_prefix_projector(root), "root": root}


def embeddings(n: int, dim: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def test_the_decoders_module_imports_diffusers_and_transformers_only_inside_the_decoders():
    import tasks.image_text_audio.decoders as module

    body = ast.parse(Path(module.__file__).read_text()).body
    imported = {alias.name for node in body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in body if isinstance(node, ast.ImportFrom)}
    assert not {name.split(".")[0] for name in imported} & {"diffusers", "transformers"}, imported


def test_image_decoder_draws_uint8_images_from_clip_embeddings_with_the_pipelines_defaults(models):
    defaults = ImageDecoder(models["unclip"])
    assert (defaults.steps, defaults.guidance, defaults.noise_level, defaults.dtype) == (20, 10.0, 0, torch.float32)
    assert defaults.size == 16 and defaults.embedding_dim == IMAGE_DIM
    decoder = ImageDecoder(models["unclip"], steps=2)
    images = decoder.decode(embeddings(3, IMAGE_DIM), batch_size=2)
    assert images.shape == (3, 3, 16, 16) and images.dtype == torch.uint8 and images.float().std() > 0
    assert torch.equal(images, decoder.decode(embeddings(3, IMAGE_DIM), batch_size=2))  # seeded
    assert decoder.decode(embeddings(0, IMAGE_DIM)).shape == (0, 3, 16, 16)
    with pytest.raises(ValueError, match=f"\\(N, {IMAGE_DIM}\\)"):
        decoder.decode(embeddings(2, IMAGE_DIM + 1))


def test_audio_decoder_draws_16khz_waveforms_from_normalised_clap_embeddings(models):
    defaults = AudioDecoder(models["audioldm"])
    assert (defaults.steps, defaults.guidance, defaults.seconds, defaults.normalize) == (20, 2.5, None, True)
    decoder = AudioDecoder(models["audioldm"], steps=2)
    waves, rate = decoder.decode(embeddings(2, AUDIO_DIM), batch_size=1)
    assert rate == 16000 and waves.shape == (2, 64) and waves.dtype == torch.float32 and waves.isfinite().all()
    assert torch.allclose(waves, decoder.decode(3.0 * embeddings(2, AUDIO_DIM), batch_size=1)[0], atol=1e-6)
    decoder.seconds = 0.008
    assert decoder.decode(embeddings(1, AUDIO_DIM))[0].shape == (1, 128)


def test_audio_decoders_unconditional_branch_is_the_pipelines_own(models):
    """Left to itself, the pipeline pads the empty prompt to as many tokens as the embedding has dimensions (16 here,
    within the tiny tokenizer's length); the decoder's unpadded empty prompt gives the same guidance."""
    decoder = AudioDecoder(models["audioldm"], steps=2)
    e = embeddings(2, AUDIO_DIM)
    ours, _ = decoder.decode(e, batch_size=2)
    theirs = decoder.pipe(prompt_embeds=torch.nn.functional.normalize(e, dim=-1), num_inference_steps=2,
                          guidance_scale=2.5, generator=torch.Generator().manual_seed(0), output_type="pt").audios
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_half_precision_reaches_every_component_and_the_conditioning(models):
    image = ImageDecoder(models["unclip"], steps=1, dtype=torch.float16)
    audio = AudioDecoder(models["audioldm"], steps=1, dtype=torch.float16)
    for pipe in (image.pipe, audio.pipe):
        modules = [m for m in pipe.components.values() if isinstance(m, torch.nn.Module)]
        assert {p.dtype for m in modules for p in m.parameters()} == {torch.float16}
    assert image.decode(embeddings(1, IMAGE_DIM)).dtype == torch.uint8
    waves, _ = audio.decode(embeddings(1, AUDIO_DIM))
    assert waves.dtype == torch.float32 and waves.isfinite().all()


def test_prefix_projector_is_rebuilt_from_its_state_dict():
    projector = PrefixProjector(TEXT_DIM, 32, prefix_tokens=4, width=20)
    rebuilt = PrefixProjector.from_state_dict(projector.state_dict())
    assert (rebuilt.prefix_tokens, rebuilt.hidden, rebuilt.mlp[0].out_features) == (4, 32, 20)
    x = embeddings(5, TEXT_DIM)
    out = rebuilt(x)
    assert out.shape == (5, 4, 32) and torch.equal(out, projector(x))
    assert out.mean(-1).abs().max() < 1e-5  # layer-normalised tokens
    assert PrefixProjector(TEXT_DIM, 32).prefix_tokens == 3


def test_text_decoder_decodes_greedily_after_the_prefix_and_bos(models):
    decoder = TextDecoder(models["gemma"], models["projector"], max_new_tokens=6)
    assert (decoder.prefix_tokens, decoder.dtype, decoder.embedding_dim) == (3, torch.float32, TEXT_DIM)
    assert TextDecoder(models["gemma"], models["projector"]).max_new_tokens == 64
    e = embeddings(2, TEXT_DIM)
    texts = decoder.decode(e, batch_size=1)
    assert isinstance(texts, list) and len(texts) == 2 and all(isinstance(t, str) for t in texts)

    model, table = decoder.model, decoder.model.get_input_embeddings()
    bos = table(torch.full((2, 1), decoder.tokenizer.bos_token_id))
    inputs, greedy = torch.cat([decoder.projector(e), bos], 1), []
    with torch.no_grad():
        for _ in range(6):
            greedy.append(model(inputs_embeds=inputs).logits[:, -1].argmax(-1))
            inputs = torch.cat([inputs, table(greedy[-1][:, None])], 1)
    tokens = decoder.tokens(e)
    eos = decoder.tokenizer.eos_token_id
    for row, expected in zip(tokens.tolist(), torch.stack(greedy, 1).tolist()):
        end = expected.index(eos) + 1 if eos in expected else len(expected)
        assert row[:end] == expected[:end]


def test_text_decoder_refuses_a_projector_of_another_width(models, tmp_path):
    torch.save(PrefixProjector(TEXT_DIM, 16).state_dict(), tmp_path / "narrow.pt")
    with pytest.raises(ValueError, match="16-d tokens"):
        TextDecoder(models["gemma"], tmp_path / "narrow.pt")


def test_missing_weights_name_the_path(models, tmp_path):
    missing = tmp_path / "nowhere"
    for build in (ImageDecoder, AudioDecoder, lambda p: TextDecoder(p, models["projector"])):
        with pytest.raises(MissingWeights, match=re.escape(str(missing))):
            build(missing)
    with pytest.raises(MissingWeights, match=re.escape(str(missing / "projector.pt"))):
        TextDecoder(models["gemma"], missing / "projector.pt")
    with pytest.raises(MissingWeights, match="no local path"):
        ImageDecoder("")
