"""The Gaussian-mixture suite: data, task matrix and metrics of paper App. D / Table 5 (spec 4.4)."""
from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import torch

from methods.backbone.modality import Batch, ModalitySpec
from methods.base import Method
from metrics.alignment import shared_mse
from metrics.sliced_wasserstein import SlicedWasserstein
from tasks.base import SUITES, EvalConfig, Evaluation, MetricResult, MetricSpec, ShuffledBatches, Suite, cache_root
from tasks.gaussian_mixture import data as gm
from tasks.gaussian_mixture.data import shared_index as shared

ONE_TO_ONE = MetricSpec("one_to_one/alignment_mse", "1→1 Align.", "one_to_one", False)
MANY_TO_ONE = MetricSpec("many_to_one/alignment_mse", "2→1 Align.", "many_to_one", False)
FIDELITY = MetricSpec("unconditional/fidelity_swd", "Uncond. Fid.", "unconditional", False)
COHERENCE = MetricSpec("unconditional/coherence_mse", "Uncond. Coh.", "unconditional", False)


@SUITES.register("gaussian_mixture")
class GaussianMixture(Suite):
    summary = "Three 60-d modalities from shared, pair-shared and private Gaussian-mixture factors (App. D)"
    modality_summary = ("x1, x2, x3: vectors of d_all + 2·d_pair + d_priv coordinates (60 by default), "
                        "x_m = [s123, s_m·, s_m·, p_m]")
    DataConfig = gm.GaussianMixtureData
    defaults = {"model": {"latent_dim": 48, "private_dim": 24}}
    table = [ONE_TO_ONE, MANY_TO_ONE, FIDELITY, COHERENCE]
    paper_table = "Table 5 (App. D)"

    def __init__(self, data_config: gm.GaussianMixtureData):
        super().__init__(data_config)
        self.arrays = gm.load(data_config, cache_root())
        self.specs = [ModalitySpec(m, "vector", (self.arrays[f"{m}/train"].shape[1],)) for m in gm.MODALITIES]
        self.names = list(gm.MODALITIES)

    def describe(self):
        cfg = self.data_config
        return {"modalities": {m: f"vector {s.shape[0]}-d = " + " + ".join(gm.modality_factors(m))
                               for m, s in zip(self.names, self.specs)},
                "factor_dims": {"shared by all": cfg.d_all, "pair-shared": cfg.d_pair, "private": cfg.d_priv},
                "train": cfg.n_train, "test": cfg.n_test}

    def split(self, which: str, device) -> dict[str, torch.Tensor]:
        return {m: torch.from_numpy(self.arrays[f"{m}/{which}"]).to(device) for m in self.names}

    def train_batches(self, batch_size, device):
        return ShuffledBatches(self.split("train", device), batch_size)

    def evaluate(self, method: Method, eval_config: EvalConfig, device, progress=None) -> Evaluation:
        """The task matrix on the first n test tuples. Each value keeps n and its floor: what real data scores at
        the same n (alignment and coherence of real tuples are exactly 0; for fidelity, the sliced Wasserstein
        distance between n training and n test tuples)."""
        cfg = self.data_config
        n = min(eval_config.n_samples, cfg.n_test)
        test = {m: x[:n] for m, x in self.split("test", device).items()}
        caps = method.capabilities
        metrics, timings, samples = {}, {}, {}
        say = progress or (lambda _: None)

        def result(per: dict[str, float] | None, floor: float) -> MetricResult:
            if per is None:
                return MetricResult(None, False, n=n)
            return MetricResult(float(np.mean(list(per.values()))), False, per, n=n, floor=floor)

        def generate(subset: list[str], targets: list[str]) -> dict[str, torch.Tensor]:
            parts = []
            for start in range(0, n, eval_config.batch_size):
                batch = Batch({m: test[m][start:start + eval_config.batch_size] for m in subset})
                parts.append(method.generate(batch, subset, targets))
            return {t: torch.cat([p[t] for p in parts]) for t in targets}

        def sliced_wasserstein(generated: dict[str, torch.Tensor]) -> dict[str, float]:
            out = {}
            for m in self.names:
                swd = SlicedWasserstein(test[m].shape[1], eval_config.swd_projections, eval_config.projection_seed)
                out[m] = swd(generated[m].cpu().numpy(), test[m].cpu().numpy())
            return out

        start = time.perf_counter()
        per = None
        if caps.one_to_one:
            say("one-to-one")
            per = {}
            for source in self.names:
                targets = [t for t in self.names if t != source]
                out = generate([source], targets)
                for t in targets:
                    i_s, i_t = shared(cfg, source, t)
                    per[f"{source}->{t}"] = shared_mse(out[t][:, i_t], test[source][:, i_s])
        metrics[ONE_TO_ONE.key] = result(per, 0.0)
        timings["one_to_one"] = time.perf_counter() - start

        start = time.perf_counter()
        per = None
        if caps.many_to_one:
            say("many-to-one")
            per = {}
            for target in self.names:
                sources = [s for s in self.names if s != target]
                out = generate(sources, [target])[target]
                for s in sources:
                    i_s, i_t = shared(cfg, s, target)
                    per[f"{'+'.join(sources)}->{target} vs {s}"] = shared_mse(out[:, i_t], test[s][:, i_s])
        metrics[MANY_TO_ONE.key] = result(per, 0.0)
        timings["many_to_one"] = time.perf_counter() - start

        start = time.perf_counter()
        fid = coh = None
        if caps.unconditional:
            say("unconditional")
            parts = [method.sample_joint(min(eval_config.batch_size, n - s))
                     for s in range(0, n, eval_config.batch_size)]
            joint = {m: torch.cat([p[m] for p in parts]) for m in self.names}
            fid = sliced_wasserstein(joint)
            coh = {}
            for a, b in itertools.combinations(self.names, 2):
                i_a, i_b = shared(cfg, a, b)
                coh[f"{a}~{b}"] = shared_mse(joint[a][:, i_a], joint[b][:, i_b])
            keep = eval_config.figure_samples
            samples = {f"joint/{m}": joint[m][:keep].cpu().numpy().astype(np.float16) for m in self.names}
            samples.update({f"real/{m}": test[m][:keep].cpu().numpy().astype(np.float16) for m in self.names})
        real = {m: x[:n] for m, x in self.split("train", device).items()}  # n real tuples the test set never saw
        metrics[FIDELITY.key] = result(fid, float(np.mean(list(sliced_wasserstein(real).values()))))
        metrics[COHERENCE.key] = result(coh, 0.0)
        timings["unconditional"] = time.perf_counter() - start
        return Evaluation(metrics, samples, timings)

    @classmethod
    def findings(cls, rows):
        from tasks.gaussian_mixture.findings import check_rows

        return check_rows(rows, cls.paper_reference())

    @classmethod
    def report_figures(cls, rows, results, out):
        from bench.figures import pair_plot

        path = pair_plot(rows, cls.figure_coordinates, out / f"{cls.name}_pairs.png")
        return [path] if path else []

    def cell_figure(self, method, evaluation, path):
        from bench.figures import shared_coordinate_grid

        if not evaluation.samples:
            return None
        coords = self.figure_coordinates(dataclasses.asdict(self.data_config))
        return shared_coordinate_grid([(method, evaluation.samples)], coords, path)

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
