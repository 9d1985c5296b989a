"""Route builders: index arithmetic that turns a batch's presence mask into training routes (no networks)."""
from __future__ import annotations

import torch
from torch import Tensor

from methods.backbone.aggregation import full_and_leave_one_out, nonempty_subsets
from methods.backbone.model import Routes


def subset_table(kind: str, k: int, device: torch.device) -> Tensor:
    """Named families of subsets as (T, K) boolean tables."""
    tables = {
        "all": lambda: nonempty_subsets(k),
        "full_and_leave_one_out": lambda: full_and_leave_one_out(k),
        "full": lambda: torch.ones(1, k, dtype=torch.bool),
        "singletons": lambda: torch.eye(k, dtype=torch.bool),
        "proper_multi": lambda: nonempty_subsets(k)[(nonempty_subsets(k).sum(1) > 1)
                                                    & (nonempty_subsets(k).sum(1) < k)],
    }
    if kind not in tables:
        raise ValueError(f"unknown subset family '{kind}'; available: {', '.join(tables)}")
    return tables[kind]().to(device)


def within(table: Tensor, present: Tensor) -> Tensor:
    """(B, T): which subsets of `table` (T, K) are inside each sample's observed set (`present` is (K, B))."""
    return ~(table[None] & ~present.T[:, None]).any(-1)


def choose(table: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
    """One subset of `table` per sample, uniformly among those it observes: ((B, K) subsets, (B,) found)."""
    candidates = within(table, present)
    found = candidates.any(1)
    weights = candidates.float() + (~found)[:, None].float()  # rows without a candidate pick anything
    return table[torch.multinomial(weights, 1).squeeze(1)] & found[:, None], found


def uniform_member(present: Tensor) -> Tensor:
    """One observed modality per sample, as a (B, K) one-hot mask."""
    idx = torch.multinomial(present.T.float(), 1).squeeze(1)
    return torch.nn.functional.one_hot(idx, present.shape[0]).bool()


def same_rows(subset: Tensor, targets: Tensor, recon: float | Tensor = 1.0, prior: float | Tensor = 0.0
              ) -> Routes:
    """Routes with one row per sample."""
    b = subset.shape[0]
    full = lambda v: v if isinstance(v, Tensor) else torch.full((b,), float(v), device=subset.device)  # noqa: E731
    return Routes(torch.arange(b, device=subset.device), subset, targets, full(recon), full(prior))


def enumerate_routes(table: Tensor, present: Tensor, with_targets: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Every (sample, subset[, target]) combination a sample observes: (sample, subset, targets) per row."""
    k = present.shape[0]
    valid = within(table, present)  # (B, T)
    if with_targets:
        eye = torch.eye(k, dtype=torch.bool, device=present.device)
        valid = valid[:, :, None] & present.T[:, None, :]  # (B, T, K)
        sample, s_idx, m_idx = valid.nonzero(as_tuple=True)
        return sample, table[s_idx], eye[m_idx]
    sample, s_idx = valid.nonzero(as_tuple=True)
    return sample, table[s_idx], torch.zeros_like(table[s_idx])


def per_sample_share(sample: Tensor, total: Tensor, n: int) -> Tensor:
    """Weight 1/count for each row, where count is the number of rows of its sample (scaled by `total`)."""
    counts = torch.bincount(sample, minlength=n).float()
    return total[sample] / counts[sample]
