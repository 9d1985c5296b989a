"""The PolyMNIST-Quadrant-Labels suite: data, verifier-scored task matrix and reports of paper §6.2 and
App. E.1 (Tables 2 and 6; spec 5.3)."""
from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import Tensor

from methods.backbone.modality import Batch, ModalitySpec
from methods.base import Method
from metrics.base import RowMean
from metrics.embedding import Frechet
from metrics.media import judges, scores
from metrics.verifier import agreement_rows
from tasks.base import SUITES, MetricResult, MetricSpec, ShuffledBatches, Suite, cache_root
from tasks.evaluation import Reader, Score, Task
from tasks.media import MediaResult, read_weights, skipped
from tasks.polymnist_quadrant_labels import data as pq
from tasks.polymnist_quadrant_labels.data import IMAGES, LABELS, to_float, to_uint8
from tasks.polymnist_quadrant_labels.verifier import check_gate, load_verifier

DIGIT = MetricSpec("single_label/digit_alignment", "Single-L→I Digit", "one_to_one", "higher")
QUADRANT = MetricSpec("single_label/quadrant_alignment", "Single-L→I Quad.", "one_to_one", "higher")
BOTH = MetricSpec("multi_label/alignment", "Multi-L→I Both", "many_to_one", "higher")
COHERENCE = MetricSpec("unconditional/coherence", "Uncond. Coh.", "unconditional", "higher")
# recorded beside the paper's four columns
CROSS_ONE = MetricSpec("cross_modal/coherence_1to1", "Image→image Coh.", "one_to_one", "higher")
CROSS_TWO = MetricSpec("cross_modal/coherence_2to1", "2 images→image Coh.", "many_to_one", "higher")
FRECHET = MetricSpec("unconditional/verifier_frechet", "Verifier-FD", "unconditional", "lower")
VERIFIER_DIGIT = MetricSpec("verifier/digit_accuracy", "Verifier digit acc.", "data", "higher")
VERIFIER_QUADRANT = MetricSpec("verifier/quadrant_accuracy", "Verifier quad. acc.", "data", "higher")
QUADRANT_SHORT = ("TR", "TL", "BL", "BR")  # quadrant labels 0-3 (spec 5.2), printed under sample figures
FIGURE_TUPLES = 10  # tuples per method in the sample figure: digits 0-9


def stack(rows: dict[str, Tensor], keys) -> Tensor:
    """(B, L): the named columns side by side."""
    return torch.stack([rows[k] for k in keys], dim=1)


def columns(predicted: list[str], labels: list[str] | tuple[str, ...], generated: bool = False) -> Reader:
    """Reads (the verifier's predictions, the labels they should equal) as (B, L) columns; the labels come from
    the test rows, or from the generated rows for co-generation."""
    return lambda made, rows: (stack(made, predicted), stack(made if generated else rows, labels))


def agreeing() -> RowMean:
    """The share of rows whose (B, L) predictions all equal their targets: label accuracy for one column, the
    agreement of every label for several."""
    return RowMean(agreement_rows)


@SUITES.register("polymnist_quadrant_labels")
class PolyMnistQuadrantLabels(Suite):
    summary = "Three RGB digit images sharing digit and quadrant, plus digit and quadrant labels (§6.2, App. E.1)"
    modality_summary = ("m1, m2, m3: RGB images (canvas × canvas) of one digit in one shared quadrant, each on its own "
                        "background and in its own handwriting; digit: label, 10 classes; quadrant: label, 4 classes")
    modality_kinds = ("image", "categorical")  # what its modality specs are made of (bench/cli.py checks methods)
    has_media = True
    DataConfig = pq.PolyMnistQuadrantLabelsData
    defaults = {"model": {"latent_dim": 32, "private_dim": 32}, "flow": {"prior_steps": 50, "decoder_steps": 25}}
    table = [DIGIT, QUADRANT, BOTH, COHERENCE]
    paper_table = "Table 6 (App. E.1; Table 2 holds five of its rows)"
    extra_metrics = [CROSS_ONE, CROSS_TWO, FRECHET]
    sample_figure = {"kind": "image_tuples", "title": "PolyMNIST-Quadrant-Labels", "images": IMAGES,
                     "labels": {"digit": None, "quadrant": QUADRANT_SHORT}}

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
                "train": cfg.n_train, "test": cfg.n_test, "validation": cfg.n_val,
                "validation_digits": f"{cfg.val_fraction:g} of each class of the training digits, held out",
                "content_hash": self.content_hash,
                "verifier_accuracy": self.verifier_accuracy}

    def split(self, which: str, device, n: int | None = None) -> dict[str, Tensor]:
        """uint8 images and long labels of a split (its first n tuples)."""
        return {m: torch.from_numpy(self.arrays[f"{m}/{which}"][:n]).to(device) for m in self.names}

    def train_batches(self, batch_size, device):
        return ShuffledBatches(self.split("train", device), batch_size,
                               lambda rows: Batch({m: to_float(x) if m in IMAGES else x for m, x in rows.items()}))

    def test_rows(self, n, task=None):
        return self.split("test", self.device, n)

    def validation_rows(self, n, task=None):
        return self.split("val", self.device, n)

    def reference_rows(self, n, task=None):
        return self.split("train", self.device, n)  # tuples of neither evaluated split, whichever is evaluated

    def batch(self, rows):
        return Batch({m: to_float(x) if m in IMAGES else x for m, x in rows.items()})

    def tasks(self) -> list[Task]:
        """Each label to the three images, both labels to the three images, everything from the prior, and
        (beside the paper's table) each image or pair of images to the others."""
        images = tuple(IMAGES)
        crossed = [Task(f"cross_modal_{size}to1", subset, tuple(m for m in images if m not in subset))
                   for size in (1, 2) for subset in itertools.combinations(images, size)]
        single = [Task("single_label", (label,), images) for label in LABELS]
        return [*single, Task("multi_label", tuple(LABELS), images), Task("unconditional", (), tuple(self.names)),
                *crossed]

    def prepare(self, chunk):
        """Images as 8-bit (as if saved), with the verifier's digit and quadrant for each: "m1:digit", ..."""
        view = dict(chunk)
        verifier = self.verifier.to(self.device)
        for m in IMAGES:
            if m in chunk:
                view[m] = chunk[m] if chunk[m].dtype == torch.uint8 else to_uint8(chunk[m])
                view.update({f"{m}:{label}": p for label, p in verifier.predict(view[m]).items()})
        return view

    # --- the media stage: FID of co-generated images (the verifier's Fréchet distance stays as it is) ---------
    @staticmethod
    def check_media(weights: str) -> None:
        read_weights(weights)

    def media(self, method, weights, samples, batch_size, time_limit, device, say) -> dict[str, MediaResult]:
        """FID of each co-generated image modality against as many real test images: torchmetrics' Inception-v3
        (pool features) from the weights file's `inception`. Without it, or where torch-fidelity (which needs
        torchvision) cannot be imported, FID is skipped and says why; it is never computed on other features."""
        keys = [f"media:fid/unconditional/{m}" for m in IMAGES]
        if not method.capabilities.unconditional:
            return {k: MediaResult(None, "lower", status="unsupported") for k in keys}
        path = read_weights(weights).get("inception")
        try:
            if not path:
                raise judges.MissingWeights("inception (Inception-v3 weights for FID): not in the weights file")
            network = judges.inception(path)
            if network is None:
                raise judges.MissingWeights("Inception-v3: torchmetrics loads it through torch-fidelity, which "
                                            "cannot be imported here (it needs torchvision)")
        except judges.MissingWeights as err:
            return {k: skipped(err, False) for k in keys}
        say("media: FID")
        n = min(samples, self.test_size())
        real, made = self.test_rows(n), []
        with torch.no_grad():
            for start in range(0, n, batch_size):
                made.append({m: to_uint8(x) for m, x in method.sample_joint(min(batch_size, n - start)).items()
                             if m in IMAGES})
        network = network.to(device)
        out = {}
        for m, key in zip(IMAGES, keys):
            features = [network(torch.cat([part[m] for part in made])[i:i + batch_size].to(device)) for i in
                        range(0, n, batch_size)]
            real_features = [network(real[m][i:i + batch_size].to(device)) for i in range(0, n, batch_size)]
            result = scores.feature_distances(torch.cat(real_features).reshape(n, -1).cpu(),
                                              torch.cat(features).reshape(n, -1).cpu(), "fid", "inception-v3", 10_000)
            out[key] = MediaResult(result.pop("value"), "lower", n=result.pop("n"), details=result)
        return out

    def scores(self, task: Task) -> list[Score]:
        """Alignment: the verifier recovers the conditioned label(s) from each generated image. Coherence: every
        generated image's digit and quadrant equal the generated labels (per image and label beside it). The oracle
        (real tuples in the generator's place) scores the verifier's accuracy on real images, and the verifier's
        Fréchet distance of n unseen real images (real vs real)."""
        both = tuple(LABELS)
        if task.group == "single_label":
            (label,) = task.sources
            spec = DIGIT if label == "digit" else QUADRANT
            return [Score(spec, f"{label}->{m}", agreeing, columns([f"{m}:{label}"], [label]))
                    for m in task.targets]
        if task.group == "multi_label":
            return [Score(BOTH, f"{'+'.join(both)}->{m}", agreeing,
                          columns([f"{m}:{k}" for k in both], both)) for m in task.targets]
        if task.sources:
            spec = CROSS_ONE if len(task.sources) == 1 else CROSS_TWO
            return [Score(spec, f"{'+'.join(task.sources)}->{t}", agreeing, columns([f"{t}:digit"], ["digit"]))
                    for t in task.targets]
        pairs = [(m, k) for m in IMAGES for k in both]
        everything = Score(COHERENCE, "all", agreeing,
                           columns([f"{m}:{k}" for m, k in pairs], [k for _, k in pairs], generated=True))
        each = [Score(COHERENCE, f"{m}~{k}", agreeing, columns([f"{m}:{k}"], [k], generated=True),
                      counts=False) for m, k in pairs]
        frechet = [Score(FRECHET, m, Frechet, self.verifier_features(m)) for m in IMAGES]
        return [everything, *each, *frechet]

    def verifier_features(self, m: str) -> Reader:
        """(generated, real) images of m as the verifier's features (the Fréchet distance is on them)."""
        features = self.verifier.to(self.device).features

        def read(made, rows):
            with torch.no_grad():
                return features(made[m]).double(), features(rows[m]).double()
        return read

    def fixed_metrics(self):
        return {spec.key: MetricResult(float(np.mean(list(self.verifier_accuracy[label].values()))), "higher",
                                       dict(self.verifier_accuracy[label]))
                for spec, label in ((VERIFIER_DIGIT, "digit"), (VERIFIER_QUADRANT, "quadrant"))}

    def figure_samples(self, method: Method, joint: dict[str, Tensor]) -> dict[str, np.ndarray]:
        """A few real tuples, images conditioned on digits 0-9 (and quadrants, where the method can take both
        labels), and joint samples, as small uint8 arrays for the report's figures."""
        k = FIGURE_TUPLES
        rows = self.test_rows(k)
        samples = {f"real/{m}": rows[m].cpu().numpy() for m in self.names}
        device = rows["digit"].device
        labels = {"digit": torch.arange(k, device=device) % 10, "quadrant": torch.arange(k, device=device) % 4}
        subset = list(LABELS) if method.capabilities.many_to_one else ["digit"]
        if method.capabilities.one_to_one:
            out = method.generate(Batch({s: labels[s] for s in subset}), subset, list(IMAGES))
            samples.update({f"conditional/{m}": to_uint8(out[m]).cpu().numpy() for m in IMAGES})
            samples.update({f"conditional/{s}": labels[s].cpu().numpy() for s in subset})
        samples.update({f"joint/{m}": (to_uint8(x) if m in IMAGES else x)[:k].cpu().numpy() for m, x in joint.items()})
        return samples

    @classmethod
    def findings(cls, rows):
        from tasks.polymnist_quadrant_labels.findings import findings

        return findings(rows, {s.key: s for s in cls.table})
