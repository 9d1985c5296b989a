"""The media stage of one cell (suites that have one: decoded media scored by the paper's metrics), run on the
trained model after the task matrix. It shapes the numbers of the cells that run it, so bench/core/fingerprint.py
counts this file for exactly those cells (media.weights set), and for no other."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from bench.core.config import CellConfig

MEDIA_SEED_OFFSET = 2_000_003  # the media stage draws from its own seed, as evaluation does


def media_metrics(cfg: CellConfig, suite, model, device: torch.device, say: Callable[[str], None]
                  ) -> dict[str, Any]:
    """The suite's media stage on the trained (EMA) model: {"media:<metric>/<cell>": MetricResult}."""
    torch.manual_seed(cfg.seed + MEDIA_SEED_OFFSET)
    model.eval()
    media = cfg.media
    return suite.media(model, media.weights, media.samples, media.batch_size, media.time_limit_s, device, say)
