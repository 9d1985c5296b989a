"""Tiny randomly initialised media decoders of the real architectures, saved with save_pretrained to a directory the
way a user's local copy is: a Stable unCLIP image-variation pipeline (diffusers StableUnCLIPImg2ImgPipeline), an
AudioLDM pipeline (diffusers AudioLDMPipeline with a CLAP text encoder and a SpeechT5 HiFi-GAN vocoder), and a Gemma 3
causal language model with a prefix projector. Vocabularies are byte-level and made here (no downloads)."""
from __future__ import annotations

from pathlib import Path

import torch

from tests.metrics.tiny_judges import byte_characters, byte_vocabulary

IMAGE_DIM = 16  # the CLIP image embedding width of the tiny unCLIP pipeline (768 for ViT-L/14)
AUDIO_DIM = 16  # the CLAP embedding width of the tiny AudioLDM pipeline (512 for LAION-CLAP)
TEXT_DIM = 24  # the text embedding width the tiny prefix projector reads (768 for EmbeddingGemma)


def tiny_unclip(root: Path, seed: int = 0) -> Path:
    """A StableUnCLIPImg2ImgPipeline drawing 16x16 images (8x8 latents, a two-level VAE)."""
    from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, StableUnCLIPImg2ImgPipeline, UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTokenizer,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    vocab = byte_vocabulary(["<|startoftext|>", "<|endoftext|>"], end_of_word=True)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=16, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"]))
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=16,
        patch_size=8, projection_dim=IMAGE_DIM))
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32), norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=(2, 4), layers_per_block=1, cross_attention_dim=16, class_embed_type="projection",
        projection_class_embeddings_input_dim=2 * IMAGE_DIM,  # the embedding and its noise level's embedding
        upcast_attention=True, use_linear_projection=True)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), norm_num_groups=8,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    pipe = StableUnCLIPImg2ImgPipeline(
        feature_extractor=CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}),
        image_encoder=image_encoder.eval(),
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=IMAGE_DIM).eval(),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tokenizer, text_encoder=text_encoder.eval(), unet=unet.eval(),
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                prediction_type="v_prediction", set_alpha_to_one=False, steps_offset=1),
        vae=vae.eval())
    pipe.save_pretrained(root / "unclip")
    return root / "unclip"


def tiny_audioldm(root: Path, seed: int = 0) -> Path:
    """An AudioLDMPipeline drawing 64-sample waveforms at 16 kHz (16 mel frames of 8 bins, 4x vocoder upsampling)."""
    from diffusers import AudioLDMPipeline, AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import (
        ClapTextConfig,
        ClapTextModelWithProjection,
        RobertaTokenizer,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
    )

    vocab = byte_vocabulary(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], end_of_word=False)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[], model_max_length=16)
    torch.manual_seed(seed)
    text_encoder = ClapTextModelWithProjection(ClapTextConfig(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=20, projection_dim=AUDIO_DIM, pad_token_id=vocab["<pad>"], bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"]))
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32), norm_num_groups=8,
        layers_per_block=1, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4), cross_attention_dim=(16, 32),
        class_embed_type="simple_projection", projection_class_embeddings_input_dim=AUDIO_DIM,
        class_embeddings_concat=True)
    vae = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=4, block_out_channels=(8, 16), norm_num_groups=8,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=8, sampling_rate=16000, upsample_initial_channel=8, upsample_rates=[2, 2],
        upsample_kernel_sizes=[4, 4], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        normalize_before=False))
    pipe = AudioLDMPipeline(
        vae=vae.eval(), text_encoder=text_encoder.eval(), tokenizer=tokenizer, unet=unet.eval(),
        scheduler=DDIMScheduler(beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear", clip_sample=False,
                                set_alpha_to_one=False),
        vocoder=vocoder.eval())
    pipe.save_pretrained(root / "audioldm")
    return root / "audioldm"


def tiny_gemma(root: Path, seed: int = 0) -> Path:
    """A Gemma 3 causal LM (transformers Gemma3ForCausalLM) with a byte-fallback vocabulary."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    pieces = [f"<0x{b:02X}>" for b in range(256)] + ["▁"] + [c for c in byte_characters() if c.isalnum()]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(specials + pieces))}
    tokenizer = GemmaTokenizer(vocab=vocab, merges=[])
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=128, sliding_window=16,
        pad_token_id=vocab["<pad>"], eos_token_id=vocab["<eos>"], bos_token_id=vocab["<bos>"])).eval()
    model.save_pretrained(root / "gemma")
    tokenizer.save_pretrained(root / "gemma")
    return root / "gemma"


def tiny_prefix_projector(root: Path, hidden: int = 32, seed: int = 0) -> Path:
    """A PrefixProjector from TEXT_DIM-d embeddings to three prefix tokens of width `hidden`, as a state dict."""
    from tasks.image_text_audio.decoders import PrefixProjector

    torch.manual_seed(seed)
    projector = PrefixProjector(TEXT_DIM, hidden)
    torch.save(projector.state_dict(), root / "projector.pt")
    return root / "projector.pt"
