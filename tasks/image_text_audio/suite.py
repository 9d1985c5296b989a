"""The image–text–audio suite at the embedding level (paper §6.3; Tables 3, 4, 8, 9; spec image_text_audio §7):
methods train on three pairwise sets where no sample has all three modalities, and are evaluated one-to-one (six
directions, on the pairwise test sets), many-to-one (two sources to the third, on the triplets) and by
unconditional co-generation. Metrics are computed in embedding space and named for what they are; they are not
the paper's CLIP, CLAP or AIS scores."""
from __future__ import annotations

import dataclasses
import itertools
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from methods.backbone.modality import Batch, ModalitySpec
from metrics.base import Pooled
from metrics.bootstrap import RowMean, interval
from metrics.embedding import (
    LinearJudge,
    cosine_rows,
    diversity,
    frechet_distance,
    recall_rows,
    reference_win_rows,
    squared_error_rows,
)
from tasks import evaluation
from tasks.base import SUITES, MetricResult, MetricSpec, ShuffledBatches, Suite, cache_root
from tasks.evaluation import Reader, Score, Task
from tasks.image_text_audio import data as ita
from tasks.image_text_audio import media
from tasks.image_text_audio.data import MODALITIES, PAIRS, TRIPLETS
from tasks.image_text_audio.flowbind_layout import pair_files, read_flowbind
from tasks.image_text_audio.references import REFERENCES

SHORT = {"text": "T", "image": "I", "audio": "A"}
DIVERSITY_SOURCES = 100  # sources per direction drawn several times for the diversity score
DIVERSITY_DRAWS = 4


def pair_of(a: str, b: str) -> str:
    return next(p for p, members in PAIRS.items() if set(members) == {a, b})


def many_to_one_spec(target: str, source: str) -> MetricSpec:
    sources = "+".join(SHORT[m] for m in MODALITIES if m != target)
    return MetricSpec(f"many_to_one/judge_win/{target} vs {source}", f"({sources})→{SHORT[target]} vs {SHORT[source]}",
                      "many_to_one", True)


def unconditional_spec(a: str, b: str) -> MetricSpec:
    return MetricSpec(f"unconditional/judge_win/{a}-{b}", f"Uncond. {SHORT[a]}–{SHORT[b]}", "unconditional", True)


# the paper's Tables 3 and 4, cell by cell (their CLIP/CLAP/AIS columns; ours are judge win-rates)
TABLE = [many_to_one_spec(t, s) for t in ("text", "image", "audio") for s in MODALITIES if s != t]
UNCONDITIONAL_PAIRS = (("text", "image"), ("text", "audio"), ("audio", "image"))  # the paper's order; judge a → b
TABLE += [unconditional_spec(a, b) for a, b in UNCONDITIONAL_PAIRS]
ONE_COSINE = MetricSpec("one_to_one/reference_cosine", "1→1 cos", "one_to_one", True)
ONE_WIN = MetricSpec("one_to_one/reference_win", "1→1 ref. win %", "one_to_one", True)
ONE_RECALL = MetricSpec("one_to_one/recall_at_5", "1→1 R@5 %", "one_to_one", True)
ONE_FRECHET = MetricSpec("one_to_one/frechet", "1→1 FD", "one_to_one", False)
ONE_JUDGE = MetricSpec("one_to_one/judge_win", "1→1 judge win %", "one_to_one", True)
ONE_DIVERSITY = MetricSpec("one_to_one/diversity", "1→1 diversity", "one_to_one", True)
MANY_COSINE = MetricSpec("many_to_one/reference_cosine", "2→1 cos", "many_to_one", True)
UNCOND_FRECHET = MetricSpec("unconditional/frechet", "Uncond. FD", "unconditional", False)
FACTOR_ONE = MetricSpec("synthetic/one_to_one_factor_mse", "1→1 factor MSE", "one_to_one", False)
FACTOR_MANY = MetricSpec("synthetic/many_to_one_factor_mse", "2→1 factor MSE", "many_to_one", False)
FACTOR_UNCOND = MetricSpec("synthetic/coherence_factor_mse", "Uncond. factor MSE", "unconditional", False)
EXTRAS = [ONE_COSINE, ONE_WIN, ONE_RECALL, ONE_FRECHET, ONE_JUDGE, ONE_DIVERSITY, MANY_COSINE, UNCOND_FRECHET]
SYNTHETIC = [FACTOR_ONE, FACTOR_MANY, FACTOR_UNCOND]


@SUITES.register("image_text_audio")
class ImageTextAudio(Suite):
    summary = "Text, image and audio embeddings trained on pairs only; 1→1, 2→1 and co-generation (§6.3)"
    modality_summary = ("text, image, audio: embedding vectors (synthetic by default: 768, 768, 512-d; or a user's "
                        "encoder outputs); training samples carry one pair (text–image, text–audio or image–audio)")
    modality_kinds = ("vector",)  # what its modality specs are made of (bench/cli.py checks methods)
    has_media = True
    DataConfig = ita.ImageTextAudioData
    defaults = {"model": {"latent_dim": 64, "private_dim": 32}}
    partial_tuples = True
    table = TABLE
    extra_metrics = EXTRAS + SYNTHETIC  # the synthetic factor errors only where the data is synthetic
    paper_table = "Tables 3 and 4 (§6.3); one-to-one as in Tables 8 and 9 (App. E)"

    def __init__(self, data_config: ita.ImageTextAudioData):
        super().__init__(data_config)
        arrays = read_flowbind(Path(data_config.root).expanduser(), data_config.n_test) \
            if data_config.source == "flowbind" else ita.load(data_config, cache_root())
        self.synthetic = data_config.source == "synthetic"
        self.sets: dict[str, dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            name, _, field = key.partition("/")
            self.sets.setdefault(name, {})[field] = value
        self.train, self.judge_rows = {}, {}
        for p in PAIRS:  # the last judge_fraction of each training set is never trained on
            rows = self.sets[f"train_{p}"]
            n = len(rows[PAIRS[p][0]])
            cut = n - ita.judge_rows(data_config, n)
            self.train[p] = {k: v[:cut] for k, v in rows.items()}
            self.judge_rows[p] = {k: v[cut:] for k, v in rows.items()}
        self.stats = {}
        for m in MODALITIES:
            seen = np.concatenate([self.train[p][m] for p, members in PAIRS.items() if m in members])
            self.stats[m] = (seen.mean(0), seen.std(0) + 1e-6)
        self.names = list(MODALITIES)
        self.specs = [ModalitySpec(m, "vector", (self.stats[m][0].shape[0],)) for m in MODALITIES]
        self.judges: dict[tuple[str, str], LinearJudge] = {}
        # least-squares inverses of the synthetic maps, to read factors back from embeddings (computed once)
        self.unmix = {m: np.linalg.pinv(self.sets["map"][m].astype(np.float64)) for m in MODALITIES} \
            if self.synthetic else {}
        self.reference_metrics: dict[tuple[int, int], dict] = {}
        self.scoring_references = False
        self.made: dict[tuple[str, str], list] = {}  # (column, direction) -> the metrics the engine made

    def describe(self):
        sizes = {p: len(self.train[p][PAIRS[p][0]]) for p in PAIRS}
        return {"modalities": {s.name: f"vector {s.shape[0]}-d" for s in self.specs},
                "source": self.data_config.source, "train_pairs": sizes,
                "judge_pairs": {p: len(self.judge_rows[p][PAIRS[p][0]]) for p in PAIRS},
                "test_pairs": {p: len(self.sets[f"test_{p}"][PAIRS[p][0]]) for p in PAIRS},
                "test_triplets": len(self.sets[f"test_{TRIPLETS}"]["text"])}

    @classmethod
    def training_rows(cls, data_config) -> int:
        """Checks the user's files (headers only) before any cell starts, as a side effect."""
        if data_config.source != "flowbind":
            return ita.training_rows(data_config)
        files = pair_files(Path(data_config.root).expanduser())
        return sum(len(f) - data_config.n_test - ita.judge_rows(data_config, len(f) - data_config.n_test)
                   for f in files.values())

    def evaluated_specs(self):
        return [*self.table, *EXTRAS, *(SYNTHETIC if self.synthetic else [])]

    # --- data -----------------------------------------------------------------------------------------
    def standardise(self, m: str, x: np.ndarray) -> np.ndarray:
        mean, std = self.stats[m]
        return ((x - mean) / std).astype(np.float32)

    def raw(self, m: str, x: Tensor) -> Tensor:
        mean, std = self.stats[m]
        return x.double() * torch.as_tensor(std, device=x.device) + torch.as_tensor(mean, device=x.device)

    def tensors(self, rows: dict[str, np.ndarray], n: int | None = None, device=None) -> dict[str, Tensor]:
        """Standardised modalities (and, for synthetic data, the factors) of a set's first n rows."""
        out = {}
        for k, v in rows.items():
            x = self.standardise(k, v[:n]) if k in MODALITIES else v[:n]
            out[k] = torch.from_numpy(np.ascontiguousarray(x)).to(device or self.device)
        return out

    def train_batches(self, batch_size, device):
        """One table of every training pair: the absent modality is zeros and marked absent, so batches mix
        pair types in proportion to their sizes (as FlowBind's loader does)."""
        columns: dict[str, list[np.ndarray]] = {k: [] for m in MODALITIES for k in (m, f"present/{m}")}
        for p, rows in self.train.items():
            n = len(rows[PAIRS[p][0]])
            for m in MODALITIES:
                here = m in PAIRS[p]
                columns[m].append(self.standardise(m, rows[m]) if here else
                                  np.zeros((n, self.stats[m][0].shape[0]), np.float32))
                columns[f"present/{m}"].append(np.full(n, here))
        table = {k: torch.from_numpy(np.concatenate(v)).to(device) for k, v in columns.items()}
        return ShuffledBatches(table, batch_size, lambda rows: Batch(
            {m: rows[m] for m in MODALITIES}, {m: rows[f"present/{m}"] for m in MODALITIES}))

    # --- evaluation -----------------------------------------------------------------------------------
    def test_size(self) -> int:
        return min(len(v[next(iter(v))]) for k, v in self.sets.items() if k.startswith("test_"))

    def test_rows(self, n, task=None):
        if task is not None and task.group == "diversity":  # each of the first sources DIVERSITY_DRAWS times
            (a,), (b,) = task.sources, task.targets
            rows = self.tensors(self.sets[f"test_{pair_of(a, b)}"], min(n, DIVERSITY_SOURCES))
            return {k: v.repeat_interleave(DIVERSITY_DRAWS, 0) for k, v in rows.items()}
        if task is not None and len(task.sources) == 1:
            return self.tensors(self.sets[f"test_{pair_of(task.sources[0], task.targets[0])}"], n)
        triplets = self.sets[f"test_{TRIPLETS}"]
        half = len(triplets["text"]) // 2  # the second half is the oracle's co-generation (reference_rows)
        return self.tensors(triplets, min(n, half))

    def reference_rows(self, n, task=None):
        triplets = self.sets[f"test_{TRIPLETS}"]
        half = len(triplets["text"]) // 2
        return self.tensors({k: v[half:] for k, v in triplets.items()}, min(n, half))

    def tasks(self) -> list[Task]:
        directions = list(itertools.permutations(MODALITIES, 2))
        one = [Task("one_to_one", (a,), (b,)) for a, b in directions]
        many = [Task("many_to_one", tuple(m for m in MODALITIES if m != t), (t,)) for t in MODALITIES]
        spread = [Task("diversity", (a,), (b,)) for a, b in directions]
        return [*one, *many, Task("unconditional", (), tuple(MODALITIES)), *spread]

    def scores(self, task: Task) -> list[Score]:
        """In the target's space (raw encoder coordinates): cosine, win-rate and recall@5 against the reference,
        and a Fréchet distance to the real set. Across spaces: the frozen judges. On synthetic data, the mean
        squared error of the shared factors recovered from the generated vectors (exact, up to noise)."""
        if task.group == "diversity":
            (a,), (b,) = task.sources, task.targets
            return [Score(ONE_DIVERSITY, f"{a}->{b}", lambda: Pooled(partial(diversity, samples=DIVERSITY_DRAWS)),
                          self.in_space(b))]
        if len(task.sources) == 1:
            (a,), (b,) = task.sources, task.targets
            part = f"{a}->{b}"
            out = [Score(ONE_COSINE, part, lambda: RowMean(cosine_rows), self.in_space(b)),
                   Score(ONE_WIN, part, lambda: RowMean(reference_win_rows), self.in_space(b)),
                   Score(ONE_RECALL, part, lambda: RowMean(recall_rows), self.in_space(b)),
                   Score(ONE_FRECHET, part, lambda: Pooled(frechet_distance), self.in_space(b)),
                   Score(ONE_JUDGE, part, self.judged(a, b), lambda made, rows: (rows[a], made[b]))]
            return self.kept(out + ([Score(FACTOR_ONE, part, lambda: RowMean(squared_error_rows),
                                           self.factors(b, a))] if self.synthetic else []))
        if task.sources:
            (t,) = task.targets
            out = [Score(many_to_one_spec(t, s), f"{'+'.join(task.sources)}->{t} vs {s}", self.judged(s, t),
                         lambda made, rows, s=s: (rows[s], made[t])) for s in task.sources]
            out.append(Score(MANY_COSINE, f"{'+'.join(task.sources)}->{t}", lambda: RowMean(cosine_rows),
                             self.in_space(t)))
            return self.kept(out + ([Score(FACTOR_MANY, f"{'+'.join(task.sources)}->{t} vs {s}",
                                           lambda: RowMean(squared_error_rows), self.factors(t, s))
                                     for s in task.sources] if self.synthetic else []))
        pairs = UNCONDITIONAL_PAIRS
        out = [Score(unconditional_spec(a, b), f"{a}~{b}", self.judged(a, b),
                     lambda made, rows, a=a, b=b: (made[a], made[b])) for a, b in pairs]
        out += [Score(UNCOND_FRECHET, m, lambda: Pooled(frechet_distance), self.in_space(m)) for m in MODALITIES]
        return self.kept(out + ([Score(FACTOR_UNCOND, f"{a}~{b}", lambda: RowMean(squared_error_rows),
                                       self.factors(a, b, joint=True)) for a, b in pairs] if self.synthetic else []))

    def kept(self, scores: list[Score]) -> list[Score]:
        """The same scores, each keeping the metrics the engine makes from it (the method's first, then the
        oracle's), so that `intervals` can resample the method's rows once the engine is done."""
        def keeping(score: Score):
            def fresh():
                metric = score.metric()
                if not self.scoring_references:
                    self.made.setdefault((score.spec.key, score.part), []).append(metric)
                return metric
            return fresh
        return [dataclasses.replace(score, metric=keeping(score)) for score in scores]

    def evaluate(self, method, eval_config, device, progress=None):
        """The engine's evaluation, and a 95% bootstrap interval over the test rows for every column that is a
        mean of per-row scores: "ci95_low:<key>" and "ci95_high:<key>" (per direction too)."""
        self.made = {}
        result = super().evaluate(method, eval_config, device, progress)
        result.metrics.update(self.intervals(result.metrics))
        return result

    def intervals(self, metrics: dict[str, MetricResult]) -> dict[str, MetricResult]:
        by_column: dict[str, dict[str, RowMean]] = {}
        for (key, part), made in self.made.items():
            if isinstance(made[0], RowMean):  # made[0] scored the method, made[1] the oracle (tasks/evaluation.py)
                by_column.setdefault(key, {})[part] = made[0]
        out = {}
        for key, parts in by_column.items():
            replicates = {part: metric.replicates() for part, metric in parts.items()}
            bounds = {part: interval([r]) for part, r in replicates.items()}
            low, high = interval(list(replicates.values()))
            for side, value, index in (("low", low, 0), ("high", high, 1)):
                out[f"ci95_{side}:{key}"] = MetricResult(
                    value, metrics[key].higher_is_better, {part: b[index] for part, b in bounds.items()},
                    n=metrics[key].n)
        return out

    def in_space(self, m: str) -> Reader:
        """(generated m, reference m), both in m's raw encoder coordinates."""
        return lambda made, rows: (self.raw(m, made[m]), self.raw(m, rows[m]))

    def judged(self, a: str, b: str):
        """A fresh metric: the win-rate of (a, b) pairs under the frozen judge from a to b."""
        judge = self.judge(a, b)
        return lambda: RowMean(judge.win_rows)

    def judge(self, a: str, b: str) -> LinearJudge:
        """Ridge regression from a to b (standardised), fitted on the held-out judge pairs, once per suite."""
        if (a, b) not in self.judges:
            rows = self.judge_rows[pair_of(a, b)]
            self.judges[(a, b)] = LinearJudge(torch.from_numpy(self.standardise(a, rows[a])),
                                              torch.from_numpy(self.standardise(b, rows[b])))
        return self.judges[(a, b)]

    def factors(self, generated: str, other: str, joint: bool = False) -> Reader:
        """(the factors `generated` shares with `other`, recovered from the generated vectors by least squares,
        the same factors of `other`: recovered from generated `other` too for co-generation, else its true ones)."""
        shared = ita.shared_factors(generated, other)

        def recovered(m: str, x: Tensor) -> Tensor:
            names = ita.modality_factors(m)
            f = self.raw(m, x) @ torch.as_tensor(self.unmix[m], device=x.device)
            bounds = np.cumsum([0] + [self.data_config.factor_dim(k) for k in names])
            return torch.cat([f[:, bounds[names.index(k)]:bounds[names.index(k) + 1]] for k in shared], dim=1)

        def read(made, rows):
            truth = recovered(other, made[other]) if joint else torch.cat(
                [rows[f"factor_{k}"].double() for k in shared], dim=1)
            return recovered(generated, made[generated]), truth
        return read

    def fixed_metrics(self):
        """The reference rows (references.py), scored once per suite and sample size by the same engine:
        "reference:<name>/<metric key>" in every record."""
        if self.scoring_references:
            return {}
        n = min(self.eval_config.n_samples, self.test_size())
        key = (n, self.eval_config.batch_size)
        if key not in self.reference_metrics:
            pairs = {(a, b): (torch.from_numpy(self.standardise(a, self.train[pair_of(a, b)][a])),
                              torch.from_numpy(self.standardise(b, self.train[pair_of(a, b)][b])))
                     for a, b in itertools.permutations(MODALITIES, 2)}
            self.scoring_references = True
            try:
                self.reference_metrics[key] = {
                    f"reference:{name}/{k}": result for name, make in REFERENCES.items()
                    for k, result in evaluation.evaluate(self, make(pairs), n, key[1]).metrics.items()}
            finally:
                self.scoring_references = False
        return self.reference_metrics[key]

    def figure_samples(self, method, joint):
        return {}

    # --- the media stage (media.py): decoded images, audio and captions scored by the paper's metrics ---------
    @classmethod
    def media_layout(cls) -> list[tuple[MetricSpec, MetricSpec]]:
        """The paper's table cells (Tables 3 and 4) as media metrics, each beside the embedding-level cell it
        stands for (the report's media section)."""
        return list(zip(media.media_specs(cls.table), cls.table))

    @staticmethod
    def check_media(weights: str) -> None:
        media.read_weights(weights)

    def media(self, method, weights: str, samples: int, batch_size: int, time_limit: float, device, say):
        return media.run(self, method, weights, samples, batch_size, time_limit, device, say)

    def media_tasks(self) -> list[tuple[tuple[str, ...], tuple[str, ...], list]]:
        """Per task (sources, targets, cells); a cell is (record key, higher is better, score(stage, decoded)).
        The pair cells of many-to-one and co-generation carry the keys of the paper's table cells."""
        out = []
        for a, b in itertools.permutations(MODALITIES, 2):
            part = f"one_to_one/{a} to {b}"  # MLflow metric names take no '>' or '+'
            out.append(((a,), (b,), [
                (media.media_key(media.PAIR_METRIC[frozenset((a, b))], part), True,
                 lambda stage, made, a=a, b=b: stage.pair(a, b, made, {b})),
                (media.media_key(media.FIDELITY[b], part), b == "text",
                 lambda stage, made, b=b: stage.fidelity(b, made))]))
        for t in MODALITIES:
            sources = tuple(m for m in MODALITIES if m != t)
            cells = [(media.cell_key(many_to_one_spec(t, s).key), True,
                      lambda stage, made, s=s, t=t: stage.pair(s, t, made, {t})) for s in sources]
            cells.append((media.media_key(media.FIDELITY[t], f"many_to_one/{' '.join(sources)} to {t}"), t == "text",
                          lambda stage, made, t=t: stage.fidelity(t, made)))
            out.append((sources, (t,), cells))
        cells = [(media.cell_key(unconditional_spec(a, b).key), True,
                  lambda stage, made, a=a, b=b: stage.pair(a, b, made, {a, b})) for a, b in UNCONDITIONAL_PAIRS]
        cells += [(media.media_key(media.FIDELITY[m], f"unconditional/{m}"), False,
                   lambda stage, made, m=m: stage.fidelity(m, made)) for m in ("image", "audio")]  # no references
        return out + [((), tuple(MODALITIES), cells)]

    def media_fields(self, task: Task, n: int) -> dict[str, np.ndarray]:
        """The optional fields of the user's test files (media.FIELDS: captions, judge embeddings of the sources,
        real-set features) for the rows test_rows (or, for co-generation, reference_rows) gives."""
        if self.data_config.source != "files":
            return {}
        stem = f"test_{pair_of(task.sources[0], task.targets[0])}" if len(task.sources) == 1 else f"test_{TRIPLETS}"
        with np.load(Path(self.data_config.root).expanduser() / f"{stem}.npz") as f:
            fields = {k: f[k] for k in media.FIELDS if k in f.files}
        if len(task.sources) == 1:
            return {k: v[:n] for k, v in fields.items()}
        half = len(self.sets[f"test_{TRIPLETS}"]["text"]) // 2
        start = half if not task.sources else 0
        return {k: v[start:start + min(n, half)] for k, v in fields.items()}

    @classmethod
    def findings(cls, rows):
        from tasks.image_text_audio.findings import check_rows

        return check_rows(rows, cls.table)
