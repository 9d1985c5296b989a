"""The suite contract: a suite owns its data, its modality specs and the task matrix it evaluates."""
from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from base.cache import cache_root  # noqa: F401  (suites import it from here)
from base.registry import Registry
from base.results import Evaluation, MetricResult, MetricSpec  # noqa: F401  (suites import them from here)
from methods.backbone.config import at_least
from methods.backbone.modality import GAUSSIAN_OUTPUTS, Batch, ModalitySpec
from methods.base import Method
from tasks import evaluation
from tasks.evaluation import Chunk, Progress, Reference, Score, Task


@dataclass
class EvalConfig:
    n_samples: int = 10_000  # samples per task (paper: [NF]; spec 4.3 proposes 10k)
    batch_size: int = 2_000  # rows generated per call
    swd_projections: int = 128  # paper App. D
    projection_seed: int = 0  # the same projections for every method and seed
    figure_samples: int = 512  # jointly generated samples kept in the record for figures
    progress_samples: int = 500  # validation tuples per task of the quick evaluation at each eighth of training; 0: off
    gaussian_output: str = "samples"  # what Gaussian decoders (classic backbone) give: "samples" or their "means"
    bootstrap: int = 200  # resamples of the test tuples for every value's standard error and interval; 0: none
    rung: float = 0.75  # the test set is also evaluated at this fraction of training (budget stability); 0: not

    def __post_init__(self):
        at_least(self, 1, "n_samples", "batch_size", "swd_projections")
        if self.gaussian_output not in GAUSSIAN_OUTPUTS:
            raise ValueError(f"unknown gaussian_output '{self.gaussian_output}'; available: "
                             f"{', '.join(GAUSSIAN_OUTPUTS)}")
        at_least(self, 0, "projection_seed", "figure_samples", "progress_samples", "bootstrap")
        if self.bootstrap == 1:
            raise ValueError("bootstrap must be 0 (no intervals) or at least 2 resamples, not 1")
        if not 0.0 <= self.rung < 1.0:
            raise ValueError(f"rung must lie in [0, 1) (a fraction of training; 0: none), not {self.rung}")


SPLITS = ("test", "validation")  # reported numbers come from test; whatever a run selects or stops on, validation


class ShuffledBatches:
    """Endless epochs, each a fresh permutation of the rows cut into full batches (the remainder is dropped).
    Its state (the epoch's order and the position in it) goes into checkpoints, so a resumed run draws exactly
    the batches an uninterrupted one would. `make_batch` turns a dict of rows into what the method trains on."""

    def __init__(self, data: dict[str, torch.Tensor], batch_size: int,
                 make_batch: Callable[[dict[str, torch.Tensor]], Any] = Batch):
        self.data, self.batch_size, self.make_batch = data, batch_size, make_batch
        first = next(iter(data.values()))
        self.n, self.device = len(first), first.device
        self.order: torch.Tensor | None = None
        self.position = 0

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self.order is None or self.position + self.batch_size > self.n:
            self.order = torch.randperm(self.n, device=self.device)  # from the global generator, checkpointed
            self.position = 0
        rows = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return self.make_batch({m: x[rows] for m, x in self.data.items()})

    def state_dict(self) -> dict[str, Any]:
        return {"order": None if self.order is None else self.order.cpu(), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order = None if state["order"] is None else state["order"].to(self.device)
        self.position = int(state["position"])


class Suite:
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    modality_summary: ClassVar[str] = ""  # e.g. "x1, x2, x3: 60-d vectors", shown by `bench list`
    DataConfig: ClassVar[type]
    defaults: ClassVar[dict[str, dict[str, Any]]] = {}  # section overrides applied before the profile
    table: ClassVar[list[MetricSpec]] = []  # the paper's table layout, in column order
    paper_table: ClassVar[str] = ""  # e.g. "Table 5 (App. D)"
    partial_tuples: ClassVar[bool] = False  # True: training samples miss modalities (e.g. pairwise data only)
    extra_metrics: ClassVar[list[MetricSpec]] = []  # recorded beside the paper's table, drawn as one more chart
    sample_figure: ClassVar[dict[str, Any]] = {}  # how bench draws the samples a record keeps (bench/figures/plots.py)
    modality_kinds: ClassVar[tuple[str, ...]] = ()  # what its modality specs are made of; (): not declared
    has_media: ClassVar[bool] = False  # a media stage (--set media.weights): check_media, media, media_layout

    def __init__(self, data_config):
        self.data_config = data_config
        self.specs: list[ModalitySpec] = []
        self.reference_cache: dict[tuple, tuple] = {}  # scored reference rows (tasks/evaluation.py)
        self.evaluated_split = "test"  # the split evaluate() reads

    def train_batches(self, batch_size: int, device: torch.device | str) -> ShuffledBatches:
        raise NotImplementedError

    @classmethod
    def training_rows(cls, data_config) -> int:
        """How many training tuples a data config yields (a batch may not be larger)."""
        return data_config.n_train

    # --- evaluation: the suite declares, tasks/evaluation.py runs ------------------------------------------
    def evaluate(self, method: Method, eval_config: EvalConfig, device: torch.device | str,
                 progress: Progress | None = None, references: bool = True, split: str = "test") -> Evaluation:
        """The task matrix on the first eval.n_samples tuples of a split, every value with its bootstrap interval,
        and (references=True) the suite's reference rows on the same tuples (see tasks/evaluation.py). The test
        split gives the reported numbers (and the figures' samples); the validation split, drawn apart from both
        training and test, is what quick checks, tuning and any selection read."""
        if split not in SPLITS:
            raise ValueError(f"unknown split '{split}'; available: {', '.join(SPLITS)}")
        self.eval_config, self.device, self.evaluated_split = eval_config, device, split
        n = min(eval_config.n_samples, self.test_size() if split == "test" else self.validation_size())
        return evaluation.evaluate(self, method, n, eval_config.batch_size, eval_config.bootstrap, progress,
                                   references, figures=split == "test")

    def test_size(self) -> int:
        return self.data_config.n_test

    def validation_size(self) -> int:
        return self.data_config.n_val

    def tasks(self) -> list[Task]:
        """The task matrix, in the order it is generated (the order fixes the random draws)."""
        raise NotImplementedError

    def scores(self, task: Task) -> list[Score]:
        raise NotImplementedError

    def test_rows(self, n: int, task: Task | None = None) -> dict[str, Tensor]:
        """The first n test tuples a task conditions on and compares with (every modality and label), on
        self.device; a suite with several test sets picks the task's."""
        raise NotImplementedError

    def validation_rows(self, n: int, task: Task | None = None) -> dict[str, Tensor]:
        """The first n validation tuples, like test_rows: drawn apart from the training and the test tuples."""
        raise NotImplementedError

    def evaluation_rows(self, n: int, task: Task | None = None) -> dict[str, Tensor]:
        """The first n tuples of the split being evaluated (self.evaluated_split)."""
        return self.validation_rows(n, task) if self.evaluated_split == "validation" else self.test_rows(n, task)

    def reference_rows(self, n: int, task: Task | None = None) -> dict[str, Tensor]:
        """n real tuples the evaluated split never saw: the oracle's samples for co-generation."""
        raise NotImplementedError

    def references(self) -> list[Reference]:
        """The reference rows scored beside the methods (tasks/evaluation.py): by default the oracle that puts real
        data in the generator's place — the test tuples' own targets for a conditional task (a draw from the true
        conditional wherever the metric compares the generation with its source, not with that target) and
        real tuples the test set never saw for co-generation (real vs real)."""
        return [Reference("oracle", "oracle generator: the test tuples' own real targets (conditional tasks) and a "
                          "second real set of the same size (co-generation: real vs real)",
                          self.own_targets, self.real_set, real=True)]

    def own_targets(self, task: Task, rows: Chunk, part: slice) -> Chunk:
        return {t: rows[t][part] for t in task.targets}

    def real_set(self, task: Task, n: int, part: slice) -> Chunk:
        """Rows `part` of n real tuples the test set never saw (reference_rows)."""
        return {m: x[part] for m, x in self.reference_rows(n, task).items()}

    def batch(self, rows: dict[str, Tensor]) -> Batch:
        """What a method conditions on, from test rows."""
        return Batch(rows)

    def prepare(self, chunk: dict[str, Tensor]) -> dict[str, Tensor]:
        """Generated or real rows as the scores read them (e.g. with a verifier's predictions added)."""
        return chunk

    @classmethod
    def headline_metrics(cls) -> list[MetricSpec]:
        """The metrics that tuning selects on and the settled rule judges, on validation tuples: the paper's table."""
        return list(cls.table)

    def evaluated_specs(self) -> list[MetricSpec]:
        """Every metric the tasks fill, in record order."""
        return [*self.table, *self.extra_metrics]

    def fixed_metrics(self) -> dict[str, MetricResult]:
        """Metrics that do not depend on the method (e.g. the verifier's own accuracy); none by default."""
        return {}

    def figure_samples(self, method: Method, joint: dict[str, Tensor]) -> dict[str, np.ndarray]:
        """Small arrays kept in the record for figures, given the first chunk of co-generated samples (empty when
        the method cannot co-generate); none by default."""
        return {}

    @classmethod
    def findings(cls, rows: list) -> list:
        """The paper's qualitative findings, each checked against `rows`: tasks/findings.py's Finding (the claim, its
        verdict and the numbers it rests on), after the notes that qualify them."""
        return []

    # --- the media stage, where has_media: decoded media scored by the paper's metrics -------------------------
    @staticmethod
    def check_media(weights: str) -> None:
        """Read the media weights file before any cell starts; ValueError naming what is wrong."""
        raise NotImplementedError

    def media(self, method: Method, weights: str, samples: int, batch_size: int, time_limit: float,
              device: torch.device | str, say: Callable[[str], None]) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def media_layout(cls) -> list[tuple[MetricSpec, MetricSpec]]:
        """The paper's table cells as media metrics, each beside the cell it stands for; [] for no report section."""
        return []

    def describe(self) -> dict[str, Any]:
        """What `bench list` and records show about the data."""
        return {}

    @classmethod
    def notes(cls) -> list[str]:
        """Choices the paper leaves open and deviations, printed in reports: the bullets of notes.md beside the
        suite (prose, so editing it leaves the records' code fingerprint alone)."""
        path = Path(__file__).parent / cls.name / "notes.md"
        if not path.exists():
            return []
        bullets = re.split(r"^- ", path.read_text(), flags=re.MULTILINE)
        return [" ".join(b.split()) for b in bullets if b.strip()]

    @classmethod
    def paper_reference(cls) -> dict[str, dict[str, float | None]]:
        """Published numbers, method -> metric key -> value (None for '–'), from the CSV beside the suite."""
        path = Path(__file__).parent / cls.name / "paper_reference.csv"
        if not path.exists():
            return {}
        with open(path, newline="") as f:
            return {row.pop("method"): {k: (float(v) if v not in ("", "-") else None) for k, v in row.items()}
                    for row in csv.DictReader(f)}


SUITES: Registry[type[Suite]] = Registry("suite")
