"""Embedding-level metrics for generated vectors (spec image_text_audio §5, §7.5). In the target's own space:
cosine to the reference, the win-rate of the reference against the other references (the AIS construction, chance
50), recall@k, a Fréchet distance between generated and real sets, and the diversity of several samples drawn
for one source. Across spaces: a frozen linear judge, fitted once on real pairs, scores a pair by the cosine
between its prediction of one side and the other side, and pairs are judged by the same win-rate."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import Ridge
from torch import Tensor
from torch.nn.functional import normalize

from metrics.base import declare

COSINE = declare("reference_cosine", True, "mean cosine between a generated vector and its reference (same space)")
WIN_RATE = declare("reference_win_rate", True,
                   "% of other references a generated vector is less similar to than to its own (chance 50)")
RECALL = declare("recall_at_k", True, "% of generated vectors whose reference is among their k most similar")
FRECHET = declare("embedding_frechet", False, "Fréchet distance between Gaussians fitted to generated and real sets")
DIVERSITY = declare("diversity", True,
                    "spread of several samples for one source, over the spread of real targets (0: deterministic)")
JUDGE_WIN = declare("judge_win_rate", True,
                    "win-rate of a pair under a frozen linear judge fitted on real pairs (chance 50)")


def similarities(preds: Tensor, target: Tensor) -> Tensor:
    """(n, n) cosine similarities of every prediction (rows) to every reference (columns)."""
    return normalize(preds.double(), dim=1) @ normalize(target.double(), dim=1).T


def cosine_rows(preds: Tensor, target: Tensor) -> Tensor:
    """Per row: the cosine between a generated vector and its reference."""
    return torch.nn.functional.cosine_similarity(preds.double(), target.double(), dim=1)


def reference_cosine(preds: Tensor, target: Tensor) -> float:
    return float(cosine_rows(preds, target).mean())


def win_rows(scores: Tensor) -> Tensor:
    """From (n, n) scores with the matching pairs on the diagonal: per row, the % of off-diagonal entries below
    the diagonal one (ties count half)."""
    n = scores.shape[0]
    if n < 2:
        raise ValueError("a win-rate needs at least two pairs")
    own = scores.diagonal()[:, None]
    wins = (scores < own).double().sum(1) + 0.5 * ((scores == own).double().sum(1) - 1)
    return 100.0 * wins / (n - 1)


def win_rate(scores: Tensor) -> float:
    """The mean over rows of win_rows (chance 50)."""
    return float(win_rows(scores).mean())


def reference_win_rows(preds: Tensor, target: Tensor) -> Tensor:
    return win_rows(similarities(preds, target))


def reference_win_rate(preds: Tensor, target: Tensor) -> float:
    return float(reference_win_rows(preds, target).mean())


def recall_rows(preds: Tensor, target: Tensor, k: int = 5) -> Tensor:
    """Per row: 100 when its own reference ranks among the k most similar references, else 0."""
    scores = similarities(preds, target)
    rank = (scores > scores.diagonal()[:, None]).sum(1)
    return 100.0 * (rank < k).double()


def recall_at_k(preds: Tensor, target: Tensor, k: int = 5) -> float:
    """% of rows whose own reference ranks among the k most similar references."""
    return float(recall_rows(preds, target, k).mean())


def squared_error_rows(preds: Tensor, target: Tensor) -> Tensor:
    """Per row: the mean over coordinates of (preds - target)² (row-aligned, same shape)."""
    if preds.shape != target.shape:
        raise ValueError(f"rows disagree in shape: {tuple(preds.shape)} vs {tuple(target.shape)}")
    return ((preds.double() - target.double()) ** 2).mean(1)


def frechet_distance(preds: Tensor, target: Tensor) -> float:
    """||μ₁ - μ₂||² + Tr(Σ₁ + Σ₂ - 2(Σ₁Σ₂)^½) of Gaussians fitted to the two sets (float64). Tr((Σ₁Σ₂)^½) is the
    sum of the square roots of the eigenvalues of Σ₁^½ Σ₂ Σ₁^½, which is symmetric: two symmetric eigensolves
    instead of a general matrix square root (same value, several times faster at 768 dimensions)."""
    x, y = preds.double().cpu().numpy(), target.double().cpu().numpy()
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    values, vectors = np.linalg.eigh(cov_x)
    root_x = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_x @ cov_y @ root_x)
    trace_root = float(np.sqrt(np.clip(middle, 0.0, None)).sum())
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(cov_x) + np.trace(cov_y) - 2.0 * trace_root)


def diversity(preds: Tensor, target: Tensor, samples: int) -> float:
    """`preds` holds `samples` consecutive draws per source: their mean pairwise distance, over the mean pairwise
    distance between the distinct real targets (`target` repeats each source's target `samples` times)."""
    if samples < 2 or len(preds) % samples:
        raise ValueError(f"need at least 2 draws per source and a multiple of {samples} rows, got {len(preds)}")
    groups = preds.double().reshape(-1, samples, preds.shape[1])
    within = torch.cdist(groups, groups).sum((1, 2)) / (samples * (samples - 1))
    real = target.double()[::samples]
    between = torch.pdist(real).mean()
    return float(within.mean() / between)


class LinearJudge:
    """A frozen cross-space judge for one ordered pair of spaces (a, b): ridge regression from a to b fitted on
    real pairs; a pair (x_a, x_b) scores cos(ridge(x_a), x_b). Identical for every method it judges."""

    def __init__(self, a: Tensor, b: Tensor, alpha: float = 1.0):
        self.model = Ridge(alpha=alpha).fit(a.double().cpu().numpy(), b.double().cpu().numpy())

    def predict(self, a: Tensor) -> Tensor:
        return torch.from_numpy(self.model.predict(a.double().cpu().numpy()))

    def win_rows(self, a: Tensor, b: Tensor) -> Tensor:
        """Per pair: its win-rate against the other b's (chance 50)."""
        return win_rows(similarities(self.predict(a), b.cpu()))

    def win_rate(self, a: Tensor, b: Tensor) -> float:
        return float(self.win_rows(a, b).mean())
