"""Baseline reference rows for the image–text–audio tables: generators that need no training beyond the suite's own
training pairs, scored by the same engine, metrics and resamples as the methods (tasks/evaluation.py).

- nearest_neighbour: the target of the training pair whose source is most similar (cosine) to the given one;
  many-to-one averages the targets retrieved for each source.
- ridge: ridge regression from source to target per direction, fitted on the training pairs; many-to-one averages
  the per-source predictions.
- marginal_mean: the training mean of the target whatever the source (chance level); co-generation returns the
  means of all three."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from sklearn.linear_model import Ridge
from torch import Tensor
from torch.nn.functional import normalize

from methods.backbone.modality import Batch
from methods.base import Capabilities
from tasks.evaluation import MethodGenerator, Reference

if TYPE_CHECKING:
    from tasks.base import Suite

PairData = dict[tuple[str, str], tuple[Tensor, Tensor]]  # (source, target) -> standardised training pairs


class Baseline:
    capabilities = Capabilities(one_to_one=True, many_to_one=True, unconditional=False)

    def __init__(self, pairs: PairData):
        self.pairs = pairs

    def predict(self, source: str, target: str, x: Tensor) -> Tensor:
        raise NotImplementedError

    def generate(self, batch: Batch, subset: Sequence[str], targets: Sequence[str]) -> dict[str, Tensor]:
        return {t: torch.stack([self.predict(s, t, batch.data[s]) for s in subset]).mean(0) for t in targets}

    def sample_joint(self, n: int) -> dict[str, Tensor]:
        raise NotImplementedError


class NearestNeighbour(Baseline):
    def predict(self, source, target, x):
        sources, targets = self.pairs[(source, target)]
        nearest = (normalize(x.float(), dim=1) @ normalize(sources.to(x.device), dim=1).T).argmax(1)
        return targets.to(x.device)[nearest]


class RidgeRegression(Baseline):
    def __init__(self, pairs: PairData, alpha: float = 1.0):
        super().__init__(pairs)
        self.models = {key: Ridge(alpha=alpha).fit(a.double().numpy(), b.double().numpy()) for key, (a, b) in
                       pairs.items()}

    def predict(self, source, target, x):
        out = self.models[(source, target)].predict(x.double().cpu().numpy())
        return torch.from_numpy(out).float().to(x.device)


class MarginalMean(Baseline):
    capabilities = Capabilities(one_to_one=True, many_to_one=True, unconditional=True)

    def __init__(self, pairs: PairData):
        super().__init__(pairs)
        self.means = {}
        for (_, b), (_, targets) in pairs.items():
            self.means[b] = targets.mean(0)

    def predict(self, source, target, x):
        return self.means[target].to(x.device).expand(len(x), -1).clone()

    def sample_joint(self, n):
        return {m: mean.expand(n, -1).clone() for m, mean in self.means.items()}


BASELINES = {"nearest_neighbour": (NearestNeighbour, "nearest neighbour: the target of the most similar training "
                                                     "source (retrieval)"),
             "ridge": (RidgeRegression, "ridge regression from source to target on the training pairs (a linear "
                                        "map)"),
             "marginal_mean": (MarginalMean, "the training mean of the target whatever the source (chance)")}


def baselines(suite: Suite, pairs: PairData) -> list[Reference]:
    """The baselines as reference rows of the suite."""
    out = []
    for name, (make, label) in BASELINES.items():
        generator = MethodGenerator(suite, make(pairs))
        out.append(Reference(name, label, generator.produce if generator.method.capabilities.one_to_one else None,
                             (lambda task, n, part, g=generator: g.produce(task, {}, part))
                             if generator.method.capabilities.unconditional else None))
    return out
