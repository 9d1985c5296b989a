"""The Gaussian-mixture suite: data, task matrix and metrics of paper App. D / Table 5 (spec 4.4)."""
from __future__ import annotations

import itertools

import numpy as np
import torch

from methods.backbone.modality import ModalitySpec
from metrics.alignment import shared_squared_error_rows
from metrics.base import RowMean
from metrics.sliced_wasserstein import SlicedWasserstein, SlicedWassersteinMetric
from tasks.base import SUITES, MetricSpec, ShuffledBatches, Suite, cache_root
from tasks.evaluation import Chunk, Reader, Reference, Score, Task
from tasks.gaussian_mixture import data as gm
from tasks.gaussian_mixture.data import shared_index as shared

ORACLE_SEED = 4_000_037  # the oracle generator's own draws
ONE_TO_ONE = MetricSpec("one_to_one/alignment_mse", "1→1 Align.", "one_to_one", "lower")
MANY_TO_ONE = MetricSpec("many_to_one/alignment_mse", "2→1 Align.", "many_to_one", "lower")
FIDELITY = MetricSpec("unconditional/fidelity_swd", "Uncond. Fid.", "unconditional", "lower")
COHERENCE = MetricSpec("unconditional/coherence_mse", "Uncond. Coh.", "unconditional", "lower")


def squared_errors() -> RowMean:
    return RowMean(shared_squared_error_rows)


@SUITES.register("gaussian_mixture")
class GaussianMixture(Suite):
    summary = "Three 60-d modalities from shared, pair-shared and private Gaussian-mixture factors (App. D)"
    modality_summary = ("x1, x2, x3: vectors of d_all + 2·d_pair + d_priv coordinates (60 by default), "
                        "x_m = [s123, s_m·, s_m·, p_m]")
    DataConfig = gm.GaussianMixtureData
    defaults = {"model": {"latent_dim": 48, "private_dim": 24}}
    table = [ONE_TO_ONE, MANY_TO_ONE, FIDELITY, COHERENCE]
    paper_table = "Table 5 (App. D)"
    sample_figure = {"kind": "shared_coordinates"}
    modality_kinds = ("vector",)

    def __init__(self, data_config: gm.GaussianMixtureData):
        super().__init__(data_config)
        self.arrays = gm.load(data_config, cache_root())
        self.specs = [ModalitySpec(m, "vector", (self.arrays[f"{m}/train"].shape[1],)) for m in gm.MODALITIES]
        self.names = list(gm.MODALITIES)
        self.mixtures: dict[str, gm.Mixture] | None = None  # the true factor distributions, read when first needed

    def describe(self):
        cfg = self.data_config
        return {"modalities": {m: f"vector {s.shape[0]}-d = " + " + ".join(gm.modality_factors(m))
                               for m, s in zip(self.names, self.specs)},
                "factor_dims": {"shared by all": cfg.d_all, "pair-shared": cfg.d_pair, "private": cfg.d_priv},
                "train": cfg.n_train, "test": cfg.n_test, "validation": cfg.n_val}

    def split(self, which: str, device) -> dict[str, torch.Tensor]:
        return {m: torch.from_numpy(self.arrays[f"{m}/{which}"]).to(device) for m in self.names}

    def train_batches(self, batch_size, device):
        return ShuffledBatches(self.split("train", device), batch_size)

    def test_rows(self, n, task=None):
        return {m: x[:n] for m, x in self.split("test", self.device).items()}

    def validation_rows(self, n, task=None):
        return {m: x[:n] for m, x in self.split("val", self.device).items()}

    def reference_rows(self, n, task=None):
        return {m: x[:n] for m, x in self.split("train", self.device).items()}  # tuples neither split holds

    def tasks(self) -> list[Task]:
        """Each modality to the other two; each pair to the third; all three from the prior."""
        one = [Task("one_to_one", (s,), tuple(t for t in self.names if t != s)) for s in self.names]
        many = [Task("many_to_one", tuple(s for s in self.names if s != t), (t,)) for t in self.names]
        return [*one, *many, Task("unconditional", (), tuple(self.names))]

    def scores(self, task: Task) -> list[Score]:
        """Alignment: a generated target against its source on their shared coordinates. Fidelity: SW2 of each
        generated modality against the test set. Coherence: two generated modalities on their shared
        coordinates. The oracle generator scores alignment and coherence 0, and fidelity at the SW2 of n unseen
        tuples (real vs real)."""
        ev = self.eval_config
        if len(task.sources) == 1:
            (s,) = task.sources
            return [Score(ONE_TO_ONE, f"{s}->{t}", squared_errors, self.aligned(t, s)) for t in task.targets]
        if task.sources:
            (t,) = task.targets
            return [Score(MANY_TO_ONE, f"{'+'.join(task.sources)}->{t} vs {s}", squared_errors, self.aligned(t, s))
                    for s in task.sources]
        fidelity = [Score(FIDELITY, m, lambda m=m: SlicedWassersteinMetric(SlicedWasserstein(
                              self.specs[self.names.index(m)].size, ev.swd_projections, ev.projection_seed)),
                          lambda made, rows, m=m: (made[m], rows[m])) for m in self.names]
        coherence = [Score(COHERENCE, f"{a}~{b}", squared_errors, self.coherent(a, b))
                     for a, b in itertools.combinations(self.names, 2)]
        return fidelity + coherence

    def references(self) -> list[Reference]:
        return [Reference("oracle", "oracle generator: a fresh draw from the true conditional given the sources' "
                          "factors (conditional tasks; alignment 0 by construction) and a fresh real set of the same "
                          "size (co-generation: real vs real)", self.oracle_conditional, self.oracle_joint, real=True)]

    def true_mixtures(self) -> dict[str, gm.Mixture]:
        if self.mixtures is None:
            self.mixtures = gm.mixtures(self.data_config)
        return self.mixtures

    def oracle_conditional(self, task: Task, rows: Chunk, part: slice) -> Chunk:
        """The targets with every factor a source carries read from that source, the others drawn fresh."""
        rng = np.random.default_rng([ORACLE_SEED, part.start, *(self.names.index(m) for m in task.sources),
                                     len(self.names), *(self.names.index(m) for m in task.targets)])
        n = part.stop - part.start
        known = {}
        for s in task.sources:
            for factor, where in gm.layout(self.data_config, s).items():
                known[factor] = rows[s][part][:, where].cpu().numpy()
        factors = {f: known[f] if f in known else mixture.draw(n, rng) for f, mixture in self.true_mixtures().items()}
        device = next(iter(rows.values())).device
        return {t: torch.from_numpy(gm.assemble(self.data_config, t, factors)).to(device) for t in task.targets}

    def oracle_joint(self, task: Task, n: int, part: slice) -> Chunk:
        rng = np.random.default_rng([ORACLE_SEED, part.start])
        factors = {f: mixture.draw(part.stop - part.start, rng) for f, mixture in self.true_mixtures().items()}
        return {m: torch.from_numpy(gm.assemble(self.data_config, m, factors)).to(self.device) for m in self.names}

    def aligned(self, target: str, source: str) -> Reader:
        i_source, i_target = shared(self.data_config, source, target)
        return lambda made, rows: (made[target][:, i_target], rows[source][:, i_source])

    def coherent(self, a: str, b: str) -> Reader:
        i_a, i_b = shared(self.data_config, a, b)
        return lambda made, rows: (made[a][:, i_a], made[b][:, i_b])

    def figure_samples(self, method, joint):
        keep = self.eval_config.figure_samples
        if not joint:
            return {}
        rows = self.test_rows(keep)
        samples = {f"joint/{m}": joint[m][:keep].cpu().numpy().astype(np.float16) for m in self.names}
        samples.update({f"real/{m}": rows[m][:keep].cpu().numpy().astype(np.float16) for m in self.names})
        return samples

    @classmethod
    def findings(cls, rows):
        from tasks.gaussian_mixture.findings import check_rows

        return check_rows(rows, cls.paper_reference())

    @classmethod
    def figure_coordinates(cls, data_config: dict) -> dict[str, tuple[str, int, str, int]]:
        """Pairs of shared coordinates for the real-vs-generated pair plot: label -> (mod a, col, mod b, col)."""
        cfg = gm.GaussianMixtureData(**data_config)
        out = {}
        for a, b in itertools.combinations(gm.MODALITIES, 2):
            i_a, i_b = shared(cfg, a, b)
            pair_factor_col = len(i_a) - 1  # last shared coordinate: part of the pair factor s_ab
            out[f"{a}~{b}"] = (a, int(i_a[pair_factor_col]), b, int(i_b[pair_factor_col]))
        return out
