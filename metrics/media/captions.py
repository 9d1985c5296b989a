"""CIDEr-D of generated captions against reference captions (pycocoevalcap's Cider, which is CIDEr-D: clipped
n-gram counts and a Gaussian length penalty; the paper reports it ×100). Captions are tokenised by the Stanford PTB
tokenizer that pycocoevalcap ships when a Java runtime is present, else by a pure-Python stand-in (lower case,
punctuation dropped, clitics split as PTB does); the record names the one used, since the two can differ on rare
punctuation."""
from __future__ import annotations

import re
import shutil

from metrics.base import declare

CIDER = declare("cider_d", "higher", "CIDEr-D ×100 of generated captions against their references (pycocoevalcap)")

PUNCTUATION = re.compile(r"[^\w\s']|_")
CLITIC = re.compile(r"(\w)('s|'re|'ve|'ll|'d|'m|n't)\b")


def python_tokens(caption: str) -> str:
    """PTB-style tokens without Java: "A dog's toy." -> "a dog 's toy"."""
    text = CLITIC.sub(r"\1 \2", caption.lower())
    text = PUNCTUATION.sub(" ", text).replace(" ' ", " ")
    return " ".join(t for t in text.split() if t != "'")


def tokenizer_name() -> str:
    return "ptb" if shutil.which("java") else "python"


def tokenize(captions: dict[int, list[str]], tokenizer: str) -> dict[int, list[str]]:
    if tokenizer == "python":
        return {k: [python_tokens(c) for c in v] for k, v in captions.items()}
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    return PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in captions.items()})


def cider_d(generated: list[str], references: list[list[str]], tokenizer: str | None = None) -> dict:
    """{"value": CIDEr-D ×100, "per_item": [...], "n": items, "tokenizer": ...}. The IDF weights come from the
    references of the items scored together, so score a whole test set at once (at least a few items)."""
    from pycocoevalcap.cider.cider import Cider

    if len(generated) != len(references) or not generated:
        raise ValueError(f"need one generated caption per item with references, got {len(generated)} and "
                         f"{len(references)}")
    tokenizer = tokenizer or tokenizer_name()
    hyps = tokenize({i: [g] for i, g in enumerate(generated)}, tokenizer)
    refs = tokenize(dict(enumerate(references)), tokenizer)
    mean, per_item = Cider().compute_score(refs, hyps)
    return {"value": 100.0 * float(mean), "per_item": [100.0 * float(v) for v in per_item], "n": len(generated),
            "tokenizer": tokenizer}
