"""Tiny randomly initialised judges of the real architectures (transformers CLIP and CLAP), saved with
save_pretrained to a directory the way a user's local copy is, with byte-level vocabularies (no merges) made here."""
from __future__ import annotations

from pathlib import Path

import torch


def byte_characters() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2's table)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in kept]
    table = {b: chr(b) for b in kept} | {b: chr(256 + i) for i, b in enumerate(shifted)}
    return [table[b] for b in range(256)]


def byte_vocabulary(specials: list[str], end_of_word: bool) -> dict[str, int]:
    chars = byte_characters()
    tokens = specials + chars + ([c + "</w>" for c in chars] if end_of_word else [])
    return {t: i for i, t in enumerate(tokens)}


def tiny_clip(root: Path, seed: int = 0) -> Path:
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPTokenizer,
        CLIPVisionConfig,
    )

    vocab = byte_vocabulary(["<|startoftext|>", "<|endoftext|>"], end_of_word=True)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    text = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, max_position_embeddings=77, bos_token_id=vocab["<|startoftext|>"],
                          eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"])
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8)
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16))
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    model.save_pretrained(root / "clip")
    processor.save_pretrained(root / "clip")
    return root / "clip"


def tiny_clap(root: Path, seed: int = 0) -> Path:
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
        RobertaTokenizer,
    )

    vocab = byte_vocabulary(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], end_of_word=False)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[])
    text = ClapTextConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=80, projection_dim=16,
                          pad_token_id=vocab["<pad>"], bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"])
    audio = ClapAudioConfig(depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16, hidden_size=32,
                            projection_dim=16)
    torch.manual_seed(seed)
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16))
    processor = ClapProcessor(feature_extractor=ClapFeatureExtractor(truncation="rand_trunc"), tokenizer=tokenizer)
    model.save_pretrained(root / "clap")
    processor.save_pretrained(root / "clap")
    return root / "clap"
