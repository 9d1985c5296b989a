"""The PolyMNIST-Quadrant-Labels suite: data, verifier-scored task matrix and reports of paper §6.2 and
App. E.1 (Tables 2 and 6; spec 5.3)."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from methods.backbone.modality import Batch, ModalitySpec
from methods.base import Method
from metrics.frechet import frechet_distance
from metrics.verifier import agreement, label_accuracy
from tasks.base import SUITES, EvalConfig, Evaluation, MetricResult, MetricSpec, ShuffledBatches, Suite, cache_root
from tasks.polymnist_quadrant_labels import data as pq
from tasks.polymnist_quadrant_labels.data import IMAGES, LABELS, to_float, to_uint8
from tasks.polymnist_quadrant_labels.verifier import check_gate, load_verifier

DIGIT = MetricSpec("single_label/digit_alignment", "Single-L→I Digit", "one_to_one", True)
QUADRANT = MetricSpec("single_label/quadrant_alignment", "Single-L→I Quad.", "one_to_one", True)
BOTH = MetricSpec("multi_label/alignment", "Multi-L→I Both", "many_to_one", True)
COHERENCE = MetricSpec("unconditional/coherence", "Uncond. Coh.", "unconditional", True)
# recorded beside the paper's four columns
CROSS_ONE = MetricSpec("cross_modal/coherence_1to1", "Image→image Coh.", "one_to_one", True)
CROSS_TWO = MetricSpec("cross_modal/coherence_2to1", "2 images→image Coh.", "many_to_one", True)
FRECHET = MetricSpec("unconditional/verifier_frechet", "Verifier-FD", "unconditional", False)
VERIFIER_DIGIT = MetricSpec("verifier/digit_accuracy", "Verifier digit acc.", "data", True)
VERIFIER_QUADRANT = MetricSpec("verifier/quadrant_accuracy", "Verifier quad. acc.", "data", True)
EXTRAS = [CROSS_ONE, CROSS_TWO, FRECHET]  # drawn in the report's extra figure
FIGURE_TUPLES = 10  # tuples per method in the sample figure: digits 0-9


def mean_of(per_direction: dict[str, float], higher_is_better: bool = True) -> MetricResult:
    return MetricResult(float(np.mean(list(per_direction.values()))), higher_is_better, dict(per_direction))


@SUITES.register("polymnist_quadrant_labels")
class PolyMnistQuadrantLabels(Suite):
    summary = "Three RGB digit images sharing digit and quadrant, plus digit and quadrant labels (§6.2, App. E.1)"
    modality_summary = ("m1, m2, m3: RGB images (canvas × canvas) of one digit in one shared quadrant, each on its own "
                        "background and in its own handwriting; digit: label, 10 classes; quadrant: label, 4 classes")
    DataConfig = pq.PolyMnistQuadrantLabelsData
    defaults = {"model": {"latent_dim": 32, "private_dim": 32}, "flow": {"prior_steps": 50, "decoder_steps": 25}}
    table = [DIGIT, QUADRANT, BOTH, COHERENCE]
    paper_table = "Table 6 (App. E.1; Table 2 holds five of its rows)"

    def __init__(self, data_config: pq.PolyMnistQuadrantLabelsData):
        super().__init__(data_config)
        self.arrays, self.content_hash = pq.load(data_config, cache_root())
        side = data_config.canvas
        self.specs = ([ModalitySpec(m, "image", (3, side, side)) for m in IMAGES]
                      + [ModalitySpec(name, "categorical", (), k) for name, k in LABELS.items()])
        self.names = [s.name for s in self.specs]
        self.verifier, self.verifier_accuracy = load_verifier(
            self.arrays, self.content_hash, side, data_config.verifier_steps, data_config.seed, cache_root())
        check_gate(self.verifier_accuracy, data_config.verifier_min_accuracy)

    def describe(self):
        cfg = self.data_config
        source = "MNIST IDX files in " + cfg.mnist_dir if cfg.source == "mnist" else \
            "scikit-learn's 8×8 digits, upsampled (NOT comparable to the paper's numbers)"
        return {"modalities": {**{m: f"RGB image {cfg.canvas}×{cfg.canvas}" for m in IMAGES},
                               **{name: f"label, {k} classes" for name, k in LABELS.items()}},
                "digit_source": source, "digit_size": cfg.digit_size, "inversion": cfg.resolved_inversion,
                "backgrounds": pq.background_names(cfg),
                "train": cfg.n_train, "test": cfg.n_test, "content_hash": self.content_hash,
                "verifier_accuracy": self.verifier_accuracy}

    def split(self, which: str, device, n: int | None = None) -> dict[str, Tensor]:
        """uint8 images and long labels of a split (its first n tuples)."""
        return {m: torch.from_numpy(self.arrays[f"{m}/{which}"][:n]).to(device) for m in self.names}

    def train_batches(self, batch_size, device):
        return ShuffledBatches(self.split("train", device), batch_size,
                               lambda rows: Batch({m: to_float(x) if m in IMAGES else x for m, x in rows.items()}))

    def evaluate(self, method: Method, eval_config: EvalConfig, device, progress=None) -> Evaluation:
        n = min(eval_config.n_samples, self.data_config.n_test)
        test = self.split("test", device, n)
        verifier = self.verifier.to(device)
        caps = method.capabilities
        chunk = eval_config.batch_size
        metrics: dict[str, MetricResult] = {}
        timings: dict[str, float] = {}
        say = progress or (lambda _: None)

        def batch(subset: list[str], rows: slice) -> Batch:
            return Batch({m: to_float(test[m][rows]) if m in IMAGES else test[m][rows] for m in subset})

        def verified(subset: list[str], targets: list[str]) -> dict[str, dict[str, Tensor]]:
            """target -> {label: verifier predictions} for images generated from the test tuples' `subset`."""
            parts: dict[str, list[dict[str, Tensor]]] = {t: [] for t in targets}
            for start in range(0, n, chunk):
                out = method.generate(batch(subset, slice(start, start + chunk)), subset, targets)
                for t in targets:
                    parts[t].append(verifier.predict(to_uint8(out[t])))
            return {t: {k: torch.cat([p[k] for p in ps]) for k in LABELS} for t, ps in parts.items()}

        def task(specs: list[MetricSpec], supported: bool, name: str, run: Callable[[], list[MetricResult]]):
            start = time.perf_counter()
            if supported:
                say(name)
            results = run() if supported else [MetricResult(None, s.higher_is_better) for s in specs]
            metrics.update({s.key: r for s, r in zip(specs, results)})
            timings[name] = time.perf_counter() - start

        def single_label() -> list[MetricResult]:
            results = []
            for label, k in LABELS.items():
                predicted = verified([label], list(IMAGES))
                results.append(mean_of({f"{label}->{m}": label_accuracy(predicted[m][label], test[label], k)
                                        for m in IMAGES}))
            return results

        def multi_label() -> list[MetricResult]:
            predicted = verified(list(LABELS), list(IMAGES))
            return [mean_of({f"digit+quadrant->{m}": agreement([predicted[m][k] for k in LABELS],
                                                               [test[k] for k in LABELS]) for m in IMAGES})]

        def cross_modal(size: int) -> list[MetricResult]:
            per = {}
            for subset in itertools.combinations(IMAGES, size):
                targets = [m for m in IMAGES if m not in subset]
                predicted = verified(list(subset), targets)
                for t in targets:
                    per[f"{'+'.join(subset)}->{t}"] = label_accuracy(predicted[t]["digit"], test["digit"], 10)
            return [mean_of(per)]

        joint: dict[str, Tensor] = {}

        def unconditional() -> list[MetricResult]:
            parts = [method.sample_joint(min(chunk, n - s)) for s in range(0, n, chunk)]
            joint.update({m: torch.cat([p[m] for p in parts]) for m in self.names})
            joint.update({m: to_uint8(joint[m]) for m in IMAGES})
            predicted = {m: verifier.predict(joint[m]) for m in IMAGES}
            # every image's digit and quadrant must equal the generated labels (so the images also agree)
            everything = agreement([predicted[m][k] for m in IMAGES for k in LABELS],
                                   [joint[k] for _ in IMAGES for k in LABELS])
            each = {f"{m}~{k}": agreement([predicted[m][k]], [joint[k]]) for m in IMAGES for k in LABELS}
            frechet = {m: frechet_distance(test[m], joint[m], verifier.features) for m in IMAGES}
            return [MetricResult(everything, True, each), mean_of(frechet, higher_is_better=False)]

        task([DIGIT, QUADRANT], caps.one_to_one, "single_label", single_label)
        task([BOTH], caps.many_to_one, "multi_label", multi_label)
        task([COHERENCE, FRECHET], caps.unconditional, "unconditional", unconditional)
        task([CROSS_ONE], caps.one_to_one, "cross_modal_1to1", lambda: cross_modal(1))
        task([CROSS_TWO], caps.many_to_one, "cross_modal_2to1", lambda: cross_modal(2))
        for spec, label in ((VERIFIER_DIGIT, "digit"), (VERIFIER_QUADRANT, "quadrant")):
            metrics[spec.key] = mean_of(self.verifier_accuracy[label])
        for key, floor in self.real_scores(test, n, verifier).items():
            metrics[key].n, metrics[key].floor = n, floor
        return Evaluation(metrics, self.figure_samples(method, test, joint), timings)

    def real_scores(self, test: dict[str, Tensor], n: int, verifier) -> dict[str, float]:
        """What real tuples score on each task at the same n: the first n test tuples' images read by the
        verifier (the best a generator can be credited with), and the Fréchet distance between n training and
        n test images (the distance a perfect generator would still show)."""
        read = {m: verifier.predict(test[m]) for m in IMAGES}
        accuracy = {k: float(np.mean([(read[m][k] == test[k]).float().mean().item() for m in IMAGES])) for k in LABELS}
        train = self.split("train", test["digit"].device, n)
        return {DIGIT.key: accuracy["digit"], QUADRANT.key: accuracy["quadrant"],
                BOTH.key: float(np.mean([agreement([read[m][k] for k in LABELS], [test[k] for k in LABELS])
                                         for m in IMAGES])),
                COHERENCE.key: agreement([read[m][k] for m in IMAGES for k in LABELS],
                                         [test[k] for _ in IMAGES for k in LABELS]),
                CROSS_ONE.key: accuracy["digit"], CROSS_TWO.key: accuracy["digit"],
                FRECHET.key: float(np.mean([frechet_distance(train[m], test[m], verifier.features) for m in IMAGES]))}

    def figure_samples(self, method: Method, test: dict[str, Tensor], joint: dict[str, Tensor]
                       ) -> dict[str, np.ndarray]:
        """A few real tuples, images conditioned on digits 0-9 (and quadrants, where the method can take both
        labels), and joint samples, as small uint8 arrays for the report's figures."""
        k = FIGURE_TUPLES
        samples = {f"real/{m}": test[m][:k].cpu().numpy() for m in self.names}
        device = test["digit"].device
        labels = {"digit": torch.arange(k, device=device) % 10, "quadrant": torch.arange(k, device=device) % 4}
        subset = list(LABELS) if method.capabilities.many_to_one else ["digit"]
        if method.capabilities.one_to_one:
            out = method.generate(Batch({s: labels[s] for s in subset}), subset, list(IMAGES))
            samples.update({f"conditional/{m}": to_uint8(out[m]).cpu().numpy() for m in IMAGES})
            samples.update({f"conditional/{s}": labels[s].cpu().numpy() for s in subset})
        samples.update({f"joint/{m}": joint[m][:k].cpu().numpy() for m in joint})
        return samples

    @classmethod
    def report_figures(cls, rows, results, out):
        from bench.figures import bar_chart
        from tasks.polymnist_quadrant_labels.report import first_samples, gallery, sample_grid

        panels = first_samples(rows)
        paths = [bar_chart(rows, EXTRAS, {}, out / f"{cls.name}_extras.png", title=f"{cls.name}: extra metrics")]
        paths += [p for p in (gallery(panels, out / f"{cls.name}_gallery.png"),
                              sample_grid(panels, out / f"{cls.name}_samples.png")) if p]
        return paths

    def cell_figure(self, method, evaluation, path):
        from tasks.polymnist_quadrant_labels.report import sample_grid

        return sample_grid([(method, evaluation.samples)], path)

    @classmethod
    def findings(cls, rows):
        from tasks.polymnist_quadrant_labels.report import findings

        return findings(rows, {s.key: s for s in cls.table})
