"""Media decoders: generated embeddings turned back into media, so that media metrics can score them.

- ImageDecoder: CLIP ViT-L/14 image embeddings (768-d) to images with Stable unCLIP (diffusers
  StableUnCLIPImg2ImgPipeline; stabilityai/stable-diffusion-2-1-unclip-small, the ViT-L/14 variant).
- AudioDecoder: LAION-CLAP embeddings (512-d) to 16 kHz waveforms with AudioLDM (diffusers AudioLDMPipeline;
  cvssp/audioldm-m-full), which is conditioned on CLAP embeddings.
- TextDecoder: text embeddings (EmbeddingGemma, 768-d) to captions with a causal language model (Gemma 3 1B)
  prompted by a PrefixProjector's soft tokens, greedy.

Every decoder loads from local directories only (the layout `save_pretrained` writes) and never downloads; a
missing path raises MissingWeights naming it. diffusers and transformers are the `media` extra and are imported
only when a decoder is built."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.functional import normalize

from metrics.media.judges import MissingWeights, checked_tokenizer, local_dir


def default_dtype(device: str | torch.device, half: torch.dtype = torch.float16) -> torch.dtype:
    """`half` on CUDA, float32 elsewhere."""
    return half if torch.device(device).type == "cuda" else torch.float32


def checked_width(embeddings: Tensor, width: int, what: str) -> Tensor:
    if embeddings.dim() != 2 or embeddings.shape[1] != width:
        raise ValueError(f"{what} decodes (N, {width}) embeddings, got {tuple(embeddings.shape)}")
    return embeddings


class ImageDecoder:
    """CLIP image embeddings to uint8 images (N, 3, H, W) with Stable unCLIP's image-variation pipeline, conditioned
    on the embedding through `image_embeds` with an empty prompt. The defaults are the pipeline's own (20 steps,
    guidance 10, noise_level 0: the embedding is not noised); H = W = the UNet's sample size times the VAE's scale
    factor (768 for Stable Diffusion 2.1) unless `size` is given. The pipeline was trained on the unnormalised
    projections of CLIPVisionModelWithProjection (`image_embeds`), which the embeddings are passed as."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
                 steps: int = 20, guidance: float = 10.0, noise_level: int = 0, size: int | None = None, seed: int = 0):
        from diffusers import StableUnCLIPImg2ImgPipeline

        self.root = local_dir(path, "Stable unCLIP", "model_index.json")
        self.device = torch.device(device)
        self.dtype = dtype or default_dtype(self.device)
        self.steps, self.guidance, self.noise_level, self.seed = steps, guidance, noise_level, seed
        self.pipe = StableUnCLIPImg2ImgPipeline.from_pretrained(self.root, dtype=self.dtype,
                                                                local_files_only=True).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        checked_tokenizer(self.pipe.tokenizer, self.root / "tokenizer")
        self.size = size or self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor
        self.embedding_dim = int(self.pipe.image_normalizer.mean.shape[-1])

    @property
    def name(self) -> str:
        return self.root.name

    @torch.no_grad()
    def decode(self, embeddings: Tensor, batch_size: int = 8) -> Tensor:
        checked_width(embeddings, self.embedding_dim, "ImageDecoder")
        generator = torch.Generator().manual_seed(self.seed)
        images = [torch.empty(0, 3, self.size, self.size, dtype=torch.uint8)]
        for chunk in chunks(embeddings, batch_size):
            # one empty prompt per embedding: with a single "" the pipeline's batch is 1 whatever the embeddings' count
            out = self.pipe(image_embeds=chunk.to(self.device, self.dtype), prompt=[""] * len(chunk),
                            num_inference_steps=self.steps, guidance_scale=self.guidance, noise_level=self.noise_level,
                            height=self.size, width=self.size, generator=generator, output_type="pt").images
            images.append((out.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu())
        return torch.cat(images)


class AudioDecoder:
    """CLAP embeddings to waveforms (N, T) with AudioLDM, whose UNet is conditioned on an L2-normalised CLAP
    embedding; decode returns the waveforms (float32) and their rate (the vocoder's, 16 kHz). The embeddings go in as
    `prompt_embeds`, normalised here as the pipeline does for the text embeddings it computes itself (it leaves given
    ones as they are). The unconditional branch of classifier-free guidance is the empty prompt's normalised CLAP
    text embedding, as in the pipeline. Defaults: 20 steps, guidance 2.5 (the pipeline's), `seconds` None for the
    checkpoint's length (the UNet's sample size in mel frames: 5.12 s for audioldm-m-full)."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
                 steps: int = 20, guidance: float = 2.5, seconds: float | None = None, normalize: bool = True,
                 seed: int = 0):
        from diffusers import AudioLDMPipeline

        self.root = local_dir(path, "AudioLDM", "model_index.json")
        self.device = torch.device(device)
        self.dtype = dtype or default_dtype(self.device)
        self.steps, self.guidance, self.seconds, self.normalize, self.seed = steps, guidance, seconds, normalize, seed
        self.pipe = AudioLDMPipeline.from_pretrained(self.root, dtype=self.dtype,
                                                     local_files_only=True).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        checked_tokenizer(self.pipe.tokenizer, self.root / "tokenizer")
        self.rate = int(self.pipe.vocoder.config.sampling_rate)
        self.embedding_dim = int(self.pipe.unet.config.projection_class_embeddings_input_dim)
        self._unconditional: Tensor | None = None

    @property
    def name(self) -> str:
        return self.root.name

    @torch.no_grad()
    def unconditional(self) -> Tensor:
        if self._unconditional is None:
            # the pipeline pads "" to as many tokens as the embedding has dimensions; padding is masked out, so the
            # unpadded tokens give the same embedding without exceeding a short tokenizer's length
            tokens = self.pipe.tokenizer([""], return_tensors="pt")
            text = self.pipe.text_encoder(tokens.input_ids.to(self.device),
                                          attention_mask=tokens.attention_mask.to(self.device)).text_embeds
            self._unconditional = normalize(text, dim=-1)
        return self._unconditional

    @torch.no_grad()
    def decode(self, embeddings: Tensor, batch_size: int = 8) -> tuple[Tensor, int]:
        checked_width(embeddings, self.embedding_dim, "AudioDecoder")
        embeddings = normalize(embeddings.float(), dim=-1) if self.normalize else embeddings
        generator = torch.Generator().manual_seed(self.seed)
        waves = []
        for chunk in chunks(embeddings, batch_size):
            negative = self.unconditional().expand(len(chunk), -1).contiguous()
            out = self.pipe(prompt_embeds=chunk.to(self.device, self.dtype), negative_prompt_embeds=negative,
                            num_inference_steps=self.steps, guidance_scale=self.guidance,
                            audio_length_in_s=self.seconds, generator=generator, output_type="pt").audios
            waves.append(out.float().cpu())
        return (torch.cat(waves) if waves else torch.empty(0, 0)), self.rate


class PrefixProjector(nn.Module):
    """A text embedding to `prefix_tokens` vectors in a language model's input-embedding space: a Tanh MLP
    (in_dim → width → prefix_tokens·hidden; width defaults to half the output, as ClipCap's MLP mapping) and a
    LayerNorm over each vector. Three prefix tokens by default."""

    def __init__(self, in_dim: int, hidden: int, prefix_tokens: int = 3, width: int | None = None):
        super().__init__()
        width = width or prefix_tokens * hidden // 2
        self.prefix_tokens, self.hidden = prefix_tokens, hidden
        self.mlp = nn.Sequential(nn.Linear(in_dim, width), nn.Tanh(), nn.Linear(width, prefix_tokens * hidden))
        self.norm = nn.LayerNorm(hidden)

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor]) -> PrefixProjector:
        """The projector a state dict was saved from, its sizes read off the weights' shapes."""
        width, in_dim = state["mlp.0.weight"].shape
        hidden = state["norm.weight"].shape[0]
        projector = cls(in_dim, hidden, state["mlp.2.weight"].shape[0] // hidden, width)
        projector.load_state_dict(state)
        return projector

    def forward(self, embeddings: Tensor) -> Tensor:
        return self.norm(self.mlp(embeddings).view(len(embeddings), self.prefix_tokens, self.hidden))


class TextDecoder:
    """Text embeddings to captions with a causal language model (transformers AutoModelForCausalLM; Gemma 3 1B)
    prompted by a PrefixProjector: the projected prefix, then the BOS token's input embedding, then greedy decoding
    of up to `max_new_tokens` (64) tokens. The projector's weights are a state dict saved with torch.save. On CUDA
    the model runs in bfloat16 where supported (Gemma 3's activations overflow float16), float32 on CPU."""

    def __init__(self, path: str | Path, projector: str | Path, device: str | torch.device = "cpu",
                 dtype: torch.dtype | None = None, max_new_tokens: int = 64):
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        self.root = local_dir(path, "language model")
        self.projector_path = Path(projector).expanduser()
        if not self.projector_path.is_file():
            raise MissingWeights(f"prefix projector: no weights file at {self.projector_path}")
        self.device = torch.device(device)
        bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.dtype = dtype or default_dtype(self.device, torch.bfloat16 if bf16 else torch.float16)
        self.max_new_tokens = max_new_tokens
        self.tokenizer = checked_tokenizer(AutoTokenizer.from_pretrained(self.root), self.root)
        self.model = AutoModelForCausalLM.from_pretrained(self.root, dtype=self.dtype).to(self.device).eval()
        state = torch.load(self.projector_path, map_location="cpu", weights_only=True)
        self.projector = PrefixProjector.from_state_dict(state).to(self.device, self.dtype).eval()
        self.prefix_tokens = self.projector.prefix_tokens
        hidden = self.model.get_input_embeddings().embedding_dim
        if self.projector.hidden != hidden:
            raise ValueError(f"the projector at {self.projector_path} makes {self.projector.hidden}-d tokens; the "
                             f"language model at {self.root} reads {hidden}-d ones")
        self.embedding_dim = self.projector.mlp[0].in_features
        self.bos = first_set(self.tokenizer.bos_token_id, self.model.config.bos_token_id)
        eos = first_set(self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id)
        pad = first_set(self.model.generation_config.pad_token_id, self.tokenizer.pad_token_id, eos)
        # a fresh config: a checkpoint's own may sample (Gemma 3's sets do_sample, top_k and top_p)
        self.generation = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                           eos_token_id=eos, pad_token_id=pad, bos_token_id=self.bos)

    @property
    def name(self) -> str:
        return self.root.name

    def prompt(self, embeddings: Tensor) -> Tensor:
        """The input embeddings generation starts from: (N, prefix_tokens + 1, hidden), the prefix then BOS."""
        prefix = self.projector(embeddings.to(self.device, self.dtype))
        if self.bos is None:
            return prefix
        bos = torch.full((len(embeddings), 1), self.bos, dtype=torch.long, device=self.device)
        return torch.cat([prefix, self.model.get_input_embeddings()(bos)], dim=1)

    @torch.no_grad()
    def tokens(self, embeddings: Tensor) -> Tensor:
        """Greedy continuations of the prompts, (N, ≤ max_new_tokens) token ids padded after EOS."""
        inputs = self.prompt(embeddings)
        mask = torch.ones(inputs.shape[:2], dtype=torch.long, device=self.device)
        # from inputs_embeds alone, generate returns the new tokens only
        return self.model.generate(inputs_embeds=inputs, attention_mask=mask, generation_config=self.generation)

    def decode(self, embeddings: Tensor, batch_size: int = 32) -> list[str]:
        checked_width(embeddings, self.embedding_dim, "TextDecoder")
        texts: list[str] = []
        for chunk in chunks(embeddings, batch_size):
            texts += [t.strip() for t in self.tokenizer.batch_decode(self.tokens(chunk), skip_special_tokens=True)]
        return texts


def chunks(embeddings: Tensor, batch_size: int) -> list[Tensor]:
    return [embeddings[i:i + batch_size] for i in range(0, len(embeddings), batch_size)]


def first_set(*values: int | list[int] | None) -> int | list[int] | None:
    return next((v for v in values if v is not None), None)
