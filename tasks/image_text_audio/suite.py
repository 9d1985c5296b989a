"""The image–text–audio suite at the embedding level (paper §6.3; Tables 3, 4, 8, 9; spec image_text_audio §7):
methods train on three pairwise sets where no sample has all three modalities, and are evaluated one-to-one (six
directions, on the pairwise test sets), many-to-one (two sources to the third, on the triplets) and by
unconditional co-generation. Metrics are computed in embedding space and named for what they are; they are not
the paper's CLIP, CLAP or AIS scores. The same task matrix runs on validation sets drawn apart from training and test
(data.py); where a user's data has no validation triplets, validation leaves out the tasks that need them (2→1)."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from methods.backbone.modality import Batch, ModalitySpec
from metrics.base import RowMean
from metrics.embedding import (
    Diversity,
    Frechet,
    KernelJudge,
    cosine_rows,
    recall,
    reference_win,
    squared_error_rows,
)
from tasks.base import SUITES, MetricSpec, ShuffledBatches, Suite, cache_root
from tasks.evaluation import Chunk, Reader, Reference, Score, Task
from tasks.image_text_audio import data as ita
from tasks.image_text_audio import media
from tasks.image_text_audio.data import MODALITIES, PAIRS, TRIPLETS
from tasks.image_text_audio.flowbind_layout import pair_files, read_flowbind
from tasks.image_text_audio.references import baselines

SHORT = {"text": "T", "image": "I", "audio": "A"}
DIVERSITY_SOURCES = 100  # sources per direction drawn several times for the diversity score
DIVERSITY_DRAWS = 4
ORACLE_SEED = 5_000_011  # the oracle generator's own draws


def pair_of(a: str, b: str) -> str:
    return next(p for p, members in PAIRS.items() if set(members) == {a, b})


def many_to_one_spec(target: str, source: str) -> MetricSpec:
    sources = "+".join(SHORT[m] for m in MODALITIES if m != target)
    return MetricSpec(f"many_to_one/judge_win/{target} vs {source}", f"({sources})→{SHORT[target]} vs {SHORT[source]}",
                      "many_to_one", "higher")


def unconditional_spec(a: str, b: str) -> MetricSpec:
    return MetricSpec(f"unconditional/judge_win/{a}-{b}", f"Uncond. {SHORT[a]}–{SHORT[b]}", "unconditional", "higher")


# the paper's Tables 3 and 4, cell by cell (their CLIP/CLAP/AIS columns; ours are judge win-rates)
TABLE = [many_to_one_spec(t, s) for t in ("text", "image", "audio") for s in MODALITIES if s != t]
UNCONDITIONAL_PAIRS = (("text", "image"), ("text", "audio"), ("audio", "image"))  # the paper's order; judge a → b
TABLE += [unconditional_spec(a, b) for a, b in UNCONDITIONAL_PAIRS]
ONE_COSINE = MetricSpec("one_to_one/reference_cosine", "1→1 cos", "one_to_one", "higher")
ONE_WIN = MetricSpec("one_to_one/reference_win", "1→1 ref. win %", "one_to_one", "higher")
ONE_RECALL = MetricSpec("one_to_one/recall_at_5", "1→1 R@5 %", "one_to_one", "higher")
ONE_FRECHET = MetricSpec("one_to_one/frechet", "1→1 FD", "one_to_one", "lower")
ONE_JUDGE = MetricSpec("one_to_one/judge_win", "1→1 judge win %", "one_to_one", "higher")
ONE_DIVERSITY = MetricSpec("one_to_one/diversity", "1→1 spread", "one_to_one", "match")
MANY_DIVERSITY = MetricSpec("many_to_one/diversity", "2→1 spread", "many_to_one", "match")
MANY_COSINE = MetricSpec("many_to_one/reference_cosine", "2→1 cos", "many_to_one", "higher")
UNCOND_FRECHET = MetricSpec("unconditional/frechet", "Uncond. FD", "unconditional", "lower")
FACTOR_ONE = MetricSpec("synthetic/one_to_one_factor_mse", "1→1 factor MSE", "one_to_one", "lower")
FACTOR_MANY = MetricSpec("synthetic/many_to_one_factor_mse", "2→1 factor MSE", "many_to_one", "lower")
FACTOR_UNCOND = MetricSpec("synthetic/coherence_factor_mse", "Uncond. factor MSE", "unconditional", "lower")
EXTRAS = [ONE_COSINE, ONE_WIN, ONE_RECALL, ONE_FRECHET, ONE_JUDGE, ONE_DIVERSITY, MANY_COSINE, MANY_DIVERSITY,
          UNCOND_FRECHET]
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
        for p in PAIRS:  # synthetic: judge and validation pairs of their own; else held out of the training pairs
            rows = self.sets.pop(f"train_{p}")
            if f"judge_{p}" in self.sets:
                self.train[p], self.judge_rows[p] = rows, self.sets[f"judge_{p}"]
                continue
            index = ita.held_out(data_config, len(rows[PAIRS[p][0]]), p, f"val_{p}" not in self.sets)
            self.train[p], self.judge_rows[p] = ({k: v[index[part]] for k, v in rows.items()} for part in
                                                 ("train", "judge"))
            self.sets.setdefault(f"val_{p}", {k: v[index["val"]] for k, v in rows.items()})
        self.validation_triplets = f"val_{TRIPLETS}" in self.sets  # else 2→1 is not evaluated on validation
        self.stand_ins = None if self.validation_triplets else self.draw_stand_ins()
        self.stats = {}
        for m in MODALITIES:
            seen = np.concatenate([self.train[p][m] for p, members in PAIRS.items() if m in members])
            self.stats[m] = (seen.mean(0), seen.std(0) + 1e-6)
        self.names = list(MODALITIES)
        self.specs = [ModalitySpec(m, "vector", (self.stats[m][0].shape[0],)) for m in MODALITIES]
        self.judges: dict[tuple[str, str], KernelJudge] = {}
        self.world = ita.World(data_config) if self.synthetic else None  # the oracle's draws, the factors' inverse

    def describe(self):
        sizes = {p: len(self.train[p][PAIRS[p][0]]) for p in PAIRS}
        return {"modalities": {s.name: f"vector {s.shape[0]}-d" for s in self.specs},
                "source": self.data_config.source, "train_pairs": sizes,
                "judge_pairs": {p: len(self.judge_rows[p][PAIRS[p][0]]) for p in PAIRS},
                "test_pairs": {p: len(self.sets[f"test_{p}"][PAIRS[p][0]]) for p in PAIRS},
                "test_triplets": len(self.sets[f"test_{TRIPLETS}"]["text"]),
                "validation_pairs": {p: len(self.sets[f"val_{p}"][PAIRS[p][0]]) for p in PAIRS},
                "validation_triplets": len(self.sets[f"val_{TRIPLETS}"]["text"]) if self.validation_triplets else
                "none given: validation leaves out 2→1"}

    @classmethod
    def training_rows(cls, data_config) -> int:
        """Checks the user's files (headers only) before any cell starts, as a side effect."""
        if data_config.source != "flowbind":
            return ita.training_rows(data_config)
        files = pair_files(Path(data_config.root).expanduser())
        return sum(ita.kept_rows(data_config, len(f) - data_config.n_test, p, True) for p, f in files.items())

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
        return self.split_size("test")

    def validation_size(self) -> int:
        return self.split_size("val")

    def split_size(self, split: str) -> int:
        return min(len(v[next(iter(v))]) for k, v in self.sets.items() if k.startswith(f"{split}_"))

    def test_rows(self, n, task=None):
        return self.split_rows("test", n, task)

    def validation_rows(self, n, task=None):
        return self.split_rows("val", n, task)

    def split_rows(self, split: str, n: int, task: Task | None) -> dict[str, Tensor]:
        """The first n tuples of a split for a task: its pairs for one source, its triplets' first half otherwise
        (the spread's few sources: its first triplets)."""
        if task is not None and task.draws > 1:  # each of the first sources `draws` times
            stem = f"{split}_{pair_of(task.sources[0], task.targets[0])}" if len(task.sources) == 1 else \
                f"{split}_{TRIPLETS}"
            rows = self.tensors(self.sets[stem], min(n, DIVERSITY_SOURCES))
            return {k: v.repeat_interleave(task.draws, 0) for k, v in rows.items()}
        if task is not None and len(task.sources) == 1:
            return self.tensors(self.sets[f"{split}_{pair_of(task.sources[0], task.targets[0])}"], n)
        return self.tensors(self.triplet_halves(split)[0], n)

    def reference_rows(self, n, task=None):
        """Real tuples the evaluated split's tuples are not: the second half of its triplets (for validation without
        triplets, stand-ins made of training pairs)."""
        return self.tensors(self.triplet_halves("val" if self.evaluated_split == "validation" else "test")[1], n)

    def triplet_halves(self, split: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(the evaluated triplets, the real reference for co-generation): the two halves of the split's triplets.
        Validation without triplets: stand-ins from the validation pairs, and from the training pairs."""
        if split == "val" and self.stand_ins is not None:
            return self.stand_ins
        triplets = self.sets[f"{split}_{TRIPLETS}"]
        half = len(triplets["text"]) // 2
        return {k: v[:half] for k, v in triplets.items()}, {k: v[half:2 * half] for k, v in triplets.items()}

    def draw_stand_ins(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Stand-ins for validation triplets where none are given, from the validation pairs (evaluated) and as many
        from the training pairs (the co-generation reference). Per modality, its rows from the pair sets that hold
        it, drawn in a seeded order (the mix the training batches see). A row's three vectors are not one sample, so
        only per-modality scores (co-generation's Fréchet distances) may read them; 2→1 does not run on them."""
        validation = {p: self.sets[f"val_{p}"] for p in PAIRS}
        n = min(sum(len(rows[m]) for p, rows in pairs.items() if m in PAIRS[p]) for m in MODALITIES
                for pairs in (validation, self.train))
        return tuple({m: self.draw_rows(pairs, m, n, salt) for m in MODALITIES}
                     for salt, pairs in enumerate((validation, self.train)))

    def draw_rows(self, pairs: dict[str, dict[str, np.ndarray]], m: str, n: int, salt: int) -> np.ndarray:
        """n of m's rows in the pair sets that hold it, drawn without replacement in a seeded order."""
        sets = [rows[m] for p, rows in pairs.items() if m in PAIRS[p]]
        starts = np.cumsum([0] + [len(x) for x in sets])
        rng = np.random.default_rng([self.data_config.seed, ita.VALIDATION_SEED, MODALITIES.index(m), salt])
        picked = rng.choice(starts[-1], n, replace=False)
        which = np.searchsorted(starts, picked, side="right") - 1
        out = np.empty((n, sets[0].shape[1]), dtype=sets[0].dtype)
        for k, x in enumerate(sets):
            out[which == k] = x[picked[which == k] - starts[k]]
        return out

    def tasks(self) -> list[Task]:
        """The task matrix; validation without triplets leaves out 2→1 (its sources must be one sample's)."""
        directions = list(itertools.permutations(MODALITIES, 2))
        one = [Task("one_to_one", (a,), (b,)) for a, b in directions]
        many = [Task("many_to_one", tuple(m for m in MODALITIES if m != t), (t,)) for t in MODALITIES]
        if self.evaluated_split == "validation" and not self.validation_triplets:
            many = []
        spread = [Task("diversity", (a,), (b,), DIVERSITY_DRAWS) for a, b in directions]
        spread += [Task("diversity", t.sources, t.targets, DIVERSITY_DRAWS) for t in many]
        return [*one, *many, Task("unconditional", (), tuple(MODALITIES)), *spread]

    def scores(self, task: Task) -> list[Score]:
        """In the target's space (raw encoder coordinates): cosine, win-rate and recall@5 against the reference,
        and a Fréchet distance to the real set. Across spaces: the frozen judges. On synthetic data, the mean
        squared error of the shared factors recovered from the generated vectors (exact, up to noise)."""
        if task.group == "diversity":
            (b,) = task.targets
            spec = ONE_DIVERSITY if len(task.sources) == 1 else MANY_DIVERSITY
            return [Score(spec, f"{'+'.join(task.sources)}->{b}",
                          lambda: Diversity(DIVERSITY_DRAWS), self.in_space(b))]
        if len(task.sources) == 1:
            (a,), (b,) = task.sources, task.targets
            part = f"{a}->{b}"
            out = [Score(ONE_COSINE, part, lambda: RowMean(cosine_rows), self.in_space(b)),
                   Score(ONE_WIN, part, reference_win, self.in_space(b)),
                   Score(ONE_RECALL, part, recall, self.in_space(b)),
                   Score(ONE_FRECHET, part, Frechet, self.in_space(b)),
                   Score(ONE_JUDGE, part, self.judge(a, b).metric, lambda made, rows: (rows[a], made[b]))]
            return out + ([Score(FACTOR_ONE, part, lambda: RowMean(squared_error_rows), self.factors(b, a))]
                          if self.synthetic else [])
        if task.sources:
            (t,) = task.targets
            out = [Score(many_to_one_spec(t, s), f"{'+'.join(task.sources)}->{t} vs {s}", self.judge(s, t).metric,
                         lambda made, rows, s=s: (rows[s], made[t])) for s in task.sources]
            out.append(Score(MANY_COSINE, f"{'+'.join(task.sources)}->{t}", lambda: RowMean(cosine_rows),
                             self.in_space(t)))
            return out + ([Score(FACTOR_MANY, f"{'+'.join(task.sources)}->{t} vs {s}",
                                 lambda: RowMean(squared_error_rows), self.factors(t, s))
                           for s in task.sources] if self.synthetic else [])
        pairs = UNCONDITIONAL_PAIRS
        out = [Score(unconditional_spec(a, b), f"{a}~{b}", self.judge(a, b).metric,
                     lambda made, rows, a=a, b=b: (made[a], made[b])) for a, b in pairs]
        out += [Score(UNCOND_FRECHET, m, Frechet, self.in_space(m)) for m in MODALITIES]
        return out + ([Score(FACTOR_UNCOND, f"{a}~{b}", lambda: RowMean(squared_error_rows),
                             self.factors(a, b, joint=True)) for a, b in pairs] if self.synthetic else [])

    def references(self) -> list[Reference]:
        """An oracle generator on synthetic data (a fresh draw from the true conditional given the sources'
        factors), on a user's data the identity (the evaluated targets: the ideal of the alignment scores, not a
        generator); for co-generation the second half of the evaluated split's triplets (real vs real; validation
        without triplets: stand-ins from training pairs, see draw_stand_ins); then the baselines of references.py
        (nearest neighbour, ridge regression, the marginal mean), fitted on the training pairs."""
        if self.synthetic:
            first = Reference("oracle", "oracle generator: a fresh draw from the true conditional given the sources' "
                              "factors (conditional tasks) and a second real set of the same size (co-generation: "
                              "real vs real)", self.oracle_conditional, self.real_set, real=True)
        else:
            first = Reference("identity", "identity: the test targets themselves (conditional tasks: the ideal of the "
                              "alignment scores, not what a generator can reach) and a second real set of the same "
                              "size (co-generation: real vs real)", self.own_targets, self.real_set)
        pairs = {(a, b): (torch.from_numpy(self.standardise(a, self.train[pair_of(a, b)][a])),
                          torch.from_numpy(self.standardise(b, self.train[pair_of(a, b)][b])))
                 for a, b in itertools.permutations(MODALITIES, 2)}
        return [first, *baselines(self, pairs)]

    def oracle_conditional(self, task: Task, rows: Chunk, part: slice) -> Chunk:
        """The targets from the factors they share with a source (read from the test rows) and fresh draws of the
        others, through the data's own maps and noise, standardised."""
        rng = np.random.default_rng([ORACLE_SEED, part.start, task.draws, *(MODALITIES.index(m) for m in task.sources),
                                     len(MODALITIES), *(MODALITIES.index(m) for m in task.targets)])
        known = {f for s in task.sources for f in ita.modality_factors(s)}
        n = part.stop - part.start
        factors = {f: rows[f"factor_{f}"][part].double().cpu().numpy() if f in known else None
                   for t in task.targets for f in ita.modality_factors(t)}
        drawn = self.world.draw_factors(n, rng)
        factors = {f: v if v is not None else drawn[f] for f, v in factors.items()}
        out = {}
        for t in task.targets:
            raw = self.world.embed(t, factors, rng)
            out[t] = torch.from_numpy(self.standardise(t, raw)).to(self.device)
        return out

    def in_space(self, m: str) -> Reader:
        """(generated m, reference m), both in m's raw encoder coordinates."""
        return lambda made, rows: (self.raw(m, made[m]), self.raw(m, rows[m]))

    def judge(self, a: str, b: str) -> KernelJudge:
        """Kernel ridge regression from a to b (standardised), fitted on the judge pairs, once per suite."""
        if (a, b) not in self.judges:
            rows = self.judge_rows[pair_of(a, b)]
            self.judges[(a, b)] = KernelJudge(torch.from_numpy(self.standardise(a, rows[a])),
                                              torch.from_numpy(self.standardise(b, rows[b])))
        return self.judges[(a, b)]

    def factors(self, generated: str, other: str, joint: bool = False) -> Reader:
        """(the factors `generated` shares with `other`, recovered from the generated vectors by least squares,
        the same factors of `other`: recovered from generated `other` too for co-generation, else its true ones)."""
        shared = ita.shared_factors(generated, other)

        def recovered(m: str, x: Tensor) -> Tensor:
            factors = self.world.recover(m, self.raw(m, x).cpu().numpy())
            return torch.from_numpy(np.concatenate([factors[k] for k in shared], axis=1)).to(x.device)

        def read(made, rows):
            truth = recovered(other, made[other]) if joint else torch.cat(
                [rows[f"factor_{k}"].double() for k in shared], dim=1)
            return recovered(generated, made[generated]), truth
        return read

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

        return check_rows(rows, cls.table, cls.paper_reference())
