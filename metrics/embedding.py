"""Embedding-level metrics for generated vectors (spec image_text_audio §5, §7.5). In the target's own space:
cosine to the reference, the win-rate of the reference against the other references (the AIS construction, chance
50), recall@k, a Fréchet distance between generated and real sets, and the diversity of several samples drawn
for one source. Across spaces: a frozen kernel-ridge judge, fitted once on real pairs, scores a pair by the cosine
between its prediction of one side and the other side, and pairs are judged by the same win-rate."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.kernel_ridge import KernelRidge
from torch import Tensor
from torch.nn.functional import normalize

from metrics.base import Pairwise, Pooled, declare

COSINE = declare("reference_cosine", "higher", "mean cosine between a generated vector and its reference (same space)")
WIN_RATE = declare("reference_win_rate", "higher",
                   "% of other references a generated vector is less similar to than to its own (chance 50)")
RECALL = declare("recall_at_k", "higher", "% of generated vectors whose reference is among their k most similar")
FRECHET = declare("embedding_frechet", "lower", "Fréchet distance between Gaussians fitted to generated and real sets")
DIVERSITY = declare("diversity", "match",
                    "spread of several samples for one source, over the spread of real targets (0: deterministic); "
                    "ideal: the true conditional's spread")
JUDGE_WIN = declare("judge_win_rate", "higher",
                    "win-rate of a pair under a frozen kernel-ridge judge fitted on real pairs (chance 50)")


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
    return recall_from_scores(similarities(preds, target), k)


def recall_at_k(preds: Tensor, target: Tensor, k: int = 5) -> float:
    """% of rows whose own reference ranks among the k most similar references."""
    return float(recall_rows(preds, target, k).mean())


def recall_from_scores(scores: Tensor, k: int = 5) -> Tensor:
    """Per row of (n, n) scores with the matching pairs on the diagonal: 100 when the match ranks among the k
    highest of its row, else 0."""
    rank = (scores > scores.diagonal()[:, None]).sum(1)
    return 100.0 * (rank < k).double()


def below_and_tied(scores: Tensor) -> list[Tensor]:
    """(n, n) indicators of the candidates each row's own pair beats and ties with (its own pair included)."""
    own = scores.diagonal()[:, None]
    return [scores < own, scores == own]


def win_from_counts(counts: list[Tensor], n: int) -> Tensor:
    """win_rows from the counts of below_and_tied: ties count half, the row's own pair is not a candidate."""
    below, tied = counts
    return 100.0 * (below + 0.5 * (tied - 1)) / (n - 1)


def reference_win() -> Pairwise:
    """The win-rate against the reference as a metric: resamples redraw the scored rows and their candidates."""
    return Pairwise(similarities, below_and_tied, win_from_counts)


def recall(k: int = 5) -> Pairwise:
    """recall@k as a metric."""
    return Pairwise(similarities, lambda scores: [scores > scores.diagonal()[:, None]],
                    lambda counts, n: 100.0 * (counts[0] < k).double())


def squared_error_rows(preds: Tensor, target: Tensor) -> Tensor:
    """Per row: the mean over coordinates of (preds - target)² (row-aligned, same shape)."""
    if preds.shape != target.shape:
        raise ValueError(f"rows disagree in shape: {tuple(preds.shape)} vs {tuple(target.shape)}")
    return ((preds.double() - target.double()) ** 2).mean(1)


def gaussian_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False))


def trace_root(cov_x: np.ndarray, cov_y: np.ndarray) -> float:
    """Tr((Σx Σy)^½). Σx Σy = L Lᵀ Σy is similar to the symmetric Lᵀ Σy L (Σx = L Lᵀ, Cholesky), so it is the sum
    of the square roots of that matrix's eigenvalues: one Cholesky and one symmetric eigensolve instead of a
    general matrix square root. A singular Σx (a collapsed generator) takes its symmetric square root instead."""
    try:
        root_x = np.linalg.cholesky(cov_x)
        middle = np.linalg.eigvalsh(root_x.T @ cov_y @ root_x)
    except np.linalg.LinAlgError:
        root_x = symmetric_root(cov_x)
        middle = np.linalg.eigvalsh(root_x @ cov_y @ root_x)
    return float(np.sqrt(np.clip(middle, 0.0, None)).sum())


def symmetric_root(cov: np.ndarray, power: float = 0.5) -> np.ndarray:
    """cov^power of a symmetric positive semi-definite matrix (negative powers on its range only)."""
    values, vectors = np.linalg.eigh(cov)
    keep = values > max(values.max(), 0.0) * 1e-12
    scaled = np.zeros_like(values)
    scaled[keep] = values[keep] ** power
    return (vectors * scaled) @ vectors.T


def frechet_distance(preds: Tensor, target: Tensor) -> float:
    """||μ₁ - μ₂||² + Tr(Σ₁ + Σ₂ - 2(Σ₁Σ₂)^½) of Gaussians fitted to the two sets (float64)."""
    x, y = preds.double().cpu().numpy(), target.double().cpu().numpy()
    (mu_x, cov_x), (mu_y, cov_y) = gaussian_fit(x), gaussian_fit(y)
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(cov_x) + np.trace(cov_y) - 2.0 * trace_root(cov_x, cov_y))


def frechet_influence(preds: Tensor, target: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first-order influence on the Fréchet distance (its derivative in the direction of adding that
    row), for the generated rows and for the real ones: the distance on a resample is, to first order, the
    distance plus the mean influence of the resampled rows. With M = Σy^½ Σx Σy^½ and Gx = Σy^½ M^-½ Σy^½ (the
    derivative of 2 Tr((Σx Σy)^½) in Σx), a row x of the first set moves the distance by
    2(μx − μy)·(x − μx) + |x − μx|² − Tr Σx − ((x − μx)ᵀ Gx (x − μx) − Tr(Gx Σx)), and likewise for y."""
    x, y = preds.double().cpu().numpy(), target.double().cpu().numpy()
    (mu_x, cov_x), (mu_y, cov_y) = gaussian_fit(x), gaussian_fit(y)

    def influence(rows, mu, cov, other_mu, other_cov):
        root = symmetric_root(other_cov)
        gradient = root @ symmetric_root(root @ cov @ root, -0.5) @ root
        centred = rows - mu
        quadratic = ((centred @ gradient) * centred).sum(1)
        return (2.0 * centred @ (mu - other_mu) + (centred ** 2).sum(1) - np.trace(cov)
                - (quadratic - np.trace(gradient @ cov)))
    return influence(x, mu_x, cov_x, mu_y, cov_y), influence(y, mu_y, cov_y, mu_x, cov_x)


class Frechet(Pooled):
    """The Fréchet distance between the generated and the real rows as a metric. Its resamples are linearised:
    the distance plus the mean first-order influence of the resampled rows (frechet_influence), exact to first
    order. Recomputing the distance on every resample would cost two 768-d covariance fits, a Cholesky and an
    eigensolve each (about 0.1 s), and resamples that repeat rows inflate a set distance; the linearised resamples
    keep the distance's noise (checked against recomputed resamples in tests/metrics/test_bootstrap.py)."""

    def __init__(self):
        super().__init__(frechet_distance)

    def resampled(self, index: Tensor) -> Tensor:
        preds, target = self.pooled()
        value = frechet_distance(preds, target)
        shift = torch.from_numpy(sum(frechet_influence(preds, target)))
        return value + shift[index.cpu()].mean(1)


def diversity(preds: Tensor, target: Tensor, samples: int) -> float:
    """`preds` holds `samples` consecutive draws per source: their mean pairwise distance, over the mean pairwise
    distance between the distinct real targets (`target` repeats each source's target `samples` times)."""
    within, between = spread_parts(preds, target, samples)
    return float(within.mean() / between[np.triu_indices(len(between), 1)].mean())


def spread_parts(preds: Tensor, target: Tensor, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Per source, the mean distance between its draws; and the (sources, sources) distances between targets."""
    if samples < 2 or len(preds) % samples:
        raise ValueError(f"need at least 2 draws per source and a multiple of {samples} rows, got {len(preds)}")
    groups = preds.double().cpu().reshape(-1, samples, preds.shape[1])
    within = torch.cdist(groups, groups).sum((1, 2)) / (samples * (samples - 1))
    real = target.double().cpu()[::samples]
    return within.numpy(), torch.cdist(real, real).numpy()


class Diversity(Pooled):
    """diversity() as a metric whose rows come `samples` to a source. A resample draws sources with their draws
    (the engine's row index keeps them together); with c the number of times each source is drawn, the spread is
    Σ c·within / Σ c over cᵀ D c / (m(m − 1)), the mean distance between the m drawn targets (a source drawn twice
    is at distance 0 from itself, as when the targets are listed again)."""

    def __init__(self, samples: int):
        super().__init__(lambda preds, target: diversity(preds, target, samples))
        self.samples = samples

    def resampled(self, index: Tensor) -> Tensor:
        within, between = spread_parts(*self.pooled(), self.samples)
        sources = index.cpu().numpy()[:, ::self.samples] // self.samples
        counts = np.stack([np.bincount(row, minlength=len(within)) for row in sources]).astype(np.float64)
        m = counts.sum(1)
        spread = (counts @ within) / m
        return torch.from_numpy(spread / (np.einsum("bi,ij,bj->b", counts, between, counts) / (m * (m - 1))))


class KernelJudge:
    """A frozen cross-space judge for one ordered pair of spaces (a, b): RBF kernel ridge regression from a to b
    fitted on real pairs (at most `max_rows` of them; the bandwidth is the median squared distance between the
    first 500), deterministic; a pair (x_a, x_b) scores cos(judge(x_a), x_b). Identical for every method it judges.
    Nonlinear, so that it recognises real pairs whose spaces a linear map does not connect."""

    def __init__(self, a: Tensor, b: Tensor, alpha: float = 0.1, max_rows: int = 4000):
        x, y = a.double().cpu().numpy()[:max_rows], b.double().cpu().numpy()[:max_rows]
        probe = x[:500]
        spread = np.median(((probe[:, None] - probe[None]) ** 2).sum(-1))
        self.model = KernelRidge(alpha=alpha, kernel="rbf", gamma=1.0 / max(spread, 1e-12)).fit(x, y)

    def predict(self, a: Tensor) -> Tensor:
        return torch.from_numpy(self.model.predict(a.double().cpu().numpy()))

    def scores(self, a: Tensor, b: Tensor) -> Tensor:
        """(n, n): every a's prediction against every b, the pairs on the diagonal."""
        return similarities(self.predict(a), b.cpu())

    def metric(self) -> Pairwise:
        """The judge's win-rate as a metric of (a, b) rows; resamples redraw the pairs and their candidates."""
        return Pairwise(self.scores, below_and_tied, win_from_counts)

    def win_rows(self, a: Tensor, b: Tensor) -> Tensor:
        """Per pair: its win-rate against the other b's (chance 50)."""
        return win_rows(self.scores(a, b))

    def win_rate(self, a: Tensor, b: Tensor) -> float:
        return float(self.win_rows(a, b).mean())
