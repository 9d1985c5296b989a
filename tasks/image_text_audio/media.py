"""The media stage of the image–text–audio suite (spec image_text_audio §4, §7.6). Generated embeddings are decoded
into images (Stable unCLIP), audio (AudioLDM) and captions (a prefix-conditioned language model) and scored with the
paper's media metrics by judge models, every model from a local path named in a weights file
(`--set media.weights=FILE`, YAML; keys in WEIGHTS). A metric whose model or reference data is missing is recorded
as skipped with what is missing named; it never gets a number.

Which metric scores which cell (Tables 3 and 4; one-to-one as in Tables 8 and 9):
- a generated target against a source, or two co-generated modalities: CLIPScore for text–image, CLAPScore for
  text–audio, AIS for audio–image. A text side is its caption (test files' `captions`; generated: decoded), an image
  or audio source is its own embedding (the data's spaces are CLIP ViT-L/14 and CLAP: the judge checkpoints must be
  those encoders), except for AIS, which needs Wav2CLIP audio and CLIP ViT-B/32 image embeddings of the sources
  (test files' `wav2clip_audio`, `clip_b32_image`).
- the fidelity of a generated modality: FID against the test images (Inception-v3 features in `inception_image`),
  else FD-CLIP against the test images' CLIP embeddings (named so); FAD against the test audio (VGGish features in
  `vggish_audio`), else against their CLAP embeddings (the encoder is recorded); CIDEr-D of generated captions
  against the reference captions.
Each value keeps its n, the judge and the definition; each pair score also keeps its Spearman correlation, over the
same items, with the embedding-level judge's score of the same pairs (is the cheap metric a proxy for the media
one?)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from base.results import MetricSpec
from metrics.embedding import similarities, win_rows
from metrics.media import audio_judges, judges, scores
from metrics.media.captions import cider_d
from metrics.media.judges import MissingWeights
from tasks.image_text_audio import decoders
from tasks.media import WEIGHTS, MediaResult, guarded, ideal, read_weights, skipped

PAIR_METRIC = {frozenset(("text", "image")): "clip_score", frozenset(("text", "audio")): "clap_score",
               frozenset(("image", "audio")): "audio_image_score"}
FIDELITY = {"image": "frechet_image", "audio": "frechet_audio", "text": "cider_d"}  # which Fréchet: "metric"
FIELDS = ("captions", "clip_b32_image", "wav2clip_audio", "inception_image", "vggish_audio")
REFERENCE_N = {"fid": 5000, "fd_clip": 5000, "fad": 1000}  # below these, a distance is flagged not comparable


def media_key(metric: str, part: str) -> str:
    return f"media:{metric}/{part}"


def table_cell(key: str) -> str:
    """The media key part of one of the paper's table cells: "many_to_one/judge_win/text vs image" ->
    "many_to_one/text vs image" (the media metric replaces the embedding-level judge)."""
    return key.replace("judge_win/", "")


def cell_pair(key: str) -> tuple[str, str]:
    """The two modalities a table cell's key judges: ".../text vs image" or ".../text-image"."""
    last = key.rsplit("/", 1)[1]
    a, b = last.split(" vs ") if " vs " in last else last.split("-")
    return a, b


def cell_key(table_key: str) -> str:
    """The record key of one of the paper's table cells as a media metric: "media:<metric>/<cell>" (CLIPScore,
    CLAPScore or AIS, by the pair the cell judges)."""
    return media_key(PAIR_METRIC[frozenset(cell_pair(table_key))], table_cell(table_key))


def media_specs(table: list[MetricSpec]) -> list[MetricSpec]:
    return [MetricSpec(cell_key(spec.key), spec.label, spec.direction, "higher") for spec in table]


class Models:
    """Decoders and judges, each loaded once on first use from the weights file; a missing one raises
    MissingWeights naming the key, what it is, and the path."""

    def __init__(self, weights: dict[str, str], device: torch.device | str):
        self.weights, self.device, self.loaded = weights, device, {}

    def get(self, key: str):
        if key not in self.loaded:
            if key not in self.weights:
                raise MissingWeights(f"{key} ({WEIGHTS[key]}): not in the weights file")
            self.loaded[key] = self.load(key, self.weights[key])
        return self.loaded[key]

    def load(self, key: str, path: str):
        make = {"unclip": lambda: decoders.ImageDecoder(path, self.device),
                "audioldm": lambda: decoders.AudioDecoder(path, self.device),
                "text_lm": lambda: decoders.TextDecoder(path, self.weights.get("text_projector", ""), self.device),
                "clip": lambda: judges.ClipJudge(path).to(self.device),
                "clip_b32": lambda: judges.ClipJudge(path).to(self.device),
                "clap": lambda: judges.ClapJudge.load(path, self.weights.get("clap_config")).to(self.device),
                "wav2clip": lambda: audio_judges.Wav2Clip.load(path).to(self.device),
                "inception": lambda: judges.inception(path),
                "vggish": lambda: audio_judges.VGGish.load(path).to(self.device)}
        return make[key]()


@dataclass
class Decoded:
    """One task's items: its test rows (raw embeddings of every modality, and the media fields of the test files),
    the sources of conditional generation and the real set of co-generation, and what the method made."""
    rows: dict[str, Any]  # modality or field -> rows
    made: dict[str, Any] = field(default_factory=dict)  # modality -> images (uint8), (waves, rate) or captions
    embedded: dict[str, Tensor] = field(default_factory=dict)  # standardised embeddings: sources, then generated


class MediaStage:
    def __init__(self, suite, method, models: Models, n: int, batch_size: int):
        self.suite, self.method, self.models, self.n, self.batch_size = suite, method, models, n, batch_size
        self.cache: dict[tuple, Any] = {}

    # --- decoding -------------------------------------------------------------------------------------------
    def decode(self, modality: str, embeddings: Tensor):
        key = {"image": "unclip", "audio": "audioldm", "text": "text_lm"}[modality]
        return self.models.get(key).decode(embeddings, self.batch_size)

    def items(self, sources: tuple[str, ...], targets: tuple[str, ...]) -> Decoded:
        """The first n test rows of the task and the media the method generates from them (co-generation: n joint
        samples, beside n real triplets it never saw)."""
        from tasks.evaluation import Task

        task = Task("media", sources, targets)
        rows = self.suite.test_rows(self.n, task) if sources else self.suite.reference_rows(self.n, task)
        with torch.no_grad():
            made = self.method.generate(self.suite.batch({m: rows[m] for m in sources}), list(sources),
                                        list(targets)) if sources else self.method.sample_joint(self.n)
        raw = {m: self.suite.raw(m, rows[m]).float() for m in rows if m in self.suite.names}
        decoded = Decoded(raw | self.suite.media_fields(task, self.n))
        decoded.embedded = {m: rows[m] for m in sources} | {m: made[m] for m in targets}
        for m in targets:
            decoded.made[m] = self.decode(m, self.suite.raw(m, made[m]).float())
        return decoded

    # --- one side of a pair, as a judge sees it -----------------------------------------------------------------
    def side(self, modality: str, judge: str, decoded: Decoded, generated: bool) -> Tensor:
        """Embeddings of one side of a pair as `judge` (clip, clip_b32, clap or wav2clip) sees it."""
        if modality == "text":
            captions = decoded.made["text"] if generated else captions_of(decoded.rows)
            return self.models.get(judge).texts(captions)
        if generated:
            if modality == "image":
                return self.models.get(judge)(decoded.made["image"])
            return self.embed_audio(judge, decoded.made["audio"])
        field_name = {"clip_b32": "clip_b32_image", "wav2clip": "wav2clip_audio"}.get(judge)
        if field_name is None:
            return decoded.rows[modality]  # the data's own CLIP ViT-L/14 image or CLAP audio embeddings
        if field_name not in decoded.rows:
            raise MissingWeights(f"the test files' '{field_name}' ({judge} embeddings of the sources)")
        return torch.as_tensor(decoded.rows[field_name]).float()

    def embed_audio(self, judge: str, media: tuple[Tensor, int]) -> Tensor:
        from metrics.media.judges import resample

        waves, rate = media
        model = self.models.get(judge)
        clips = torch.stack([torch.from_numpy(resample(w.double().cpu().numpy(), rate, model.rate)) for w in waves])
        return model(clips.to(model.device))  # every audio judge takes clips at its `rate` on its `device`

    def pair(self, a: str, b: str, decoded: Decoded, generated: set[str]) -> dict:
        """The pair metric of modalities a and b (each generated or a source), with its Spearman correlation over
        the items with the embedding-level judge's cosine of the same pairs."""
        metric = PAIR_METRIC[frozenset((a, b))]
        if metric == "audio_image_score":
            audio = self.side("audio", "wav2clip", decoded, "audio" in generated)
            image = self.side("image", "clip_b32", decoded, "image" in generated)
            out = scores.audio_image_score(audio, image) | {"judge": "wav2clip, clip_b32"}
            per_item = win_rows(similarities(audio, image))
        else:
            judge, other = ("clip", "image") if metric == "clip_score" else ("clap", "audio")
            text = self.side("text", judge, decoded, "text" in generated)
            media_side = self.side(other, judge, decoded, other in generated)
            out = (scores.clip_score(media_side, text) if judge == "clip" else scores.clap_score(media_side, text))
            out["judge"] = judge
            per_item = torch.nn.functional.cosine_similarity(media_side.double(), text.double(), dim=1)
        proxy = self.suite.judge(a, b).predict(decoded.embedded[a])
        proxy_cos = torch.nn.functional.cosine_similarity(proxy.double(), decoded.embedded[b].double().cpu(), dim=1)
        return out | {"spearman_with_embedding_judge": spearman(per_item.cpu(), proxy_cos)}

    def fidelity(self, modality: str, decoded: Decoded) -> dict:
        real = decoded.rows
        if modality == "text":
            if "captions" not in real:
                raise MissingWeights("the test files' 'captions' (reference captions)")
            return cider_d(decoded.made["text"], reference_lists(real["captions"]))
        if modality == "image":
            if "inception" in self.models.weights and "inception_image" in real:
                network = self.models.get("inception")
                if network is not None:
                    made = torch.cat([network(x).reshape(len(x), -1) for x in decoded.made["image"].split(
                        self.batch_size)])
                    return scores.feature_distances(torch.as_tensor(real["inception_image"]).float(), made, "fid",
                                                    "inception-v3", REFERENCE_N["fid"])
            made = self.models.get("clip")(decoded.made["image"])
            return scores.feature_distances(real["image"], made, "fd_clip", "clip", REFERENCE_N["fd_clip"])
        if "vggish" in self.models.weights and "vggish_audio" in real:
            made = self.embed_audio("vggish", decoded.made["audio"])
            return scores.feature_distances(torch.as_tensor(real["vggish_audio"]).float(), made, "fad", "vggish",
                                            REFERENCE_N["fad"])
        made = self.embed_audio("clap", decoded.made["audio"])
        return scores.feature_distances(real["audio"], made, "fad", "clap", REFERENCE_N["fad"])


def captions_of(sources: dict[str, Any]) -> list[str]:
    if "captions" not in sources:
        raise MissingWeights("the test files' 'captions' (the text sources' captions)")
    return [refs[0] for refs in reference_lists(sources["captions"])]


def reference_lists(captions: Any) -> list[list[str]]:
    """Captions as stored: one string per item, or several per item (rows of a 2-d array; empty strings dropped)."""
    array = np.asarray(captions)
    if array.ndim == 1:
        return [[str(c)] for c in array]
    return [[str(c) for c in row if str(c)] for row in array]


def spearman(a: list[float] | Tensor, b: list[float] | Tensor) -> float | None:
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def plan_items(stage_seconds_per_item: float, time_limit: float, cap: int) -> int:
    """Items per task that fit `time_limit` seconds at the measured cost per item (at least 4 for the scores)."""
    if time_limit <= 0 or stage_seconds_per_item <= 0:
        return cap
    return max(4, min(cap, math.floor(time_limit / stage_seconds_per_item)))


def seconds_per_item(stage: MediaStage, tasks: list) -> float:
    """A two-item warm-up of each decoder (one task generating it), summed over what every task decodes."""
    cost: dict[str, float] = {}
    for sources, targets, _ in tasks:
        if len(targets) == 1 and sources and targets[0] not in cost:
            start = time.perf_counter()
            try:
                stage.items(sources, targets)
            except MissingWeights:
                pass
            cost[targets[0]] = (time.perf_counter() - start) / stage.n
    return sum(cost.get(m, 0.0) for _, targets, _ in tasks for m in targets)


def run(suite, method, weights_file: str, samples: int, batch_size: int, time_limit: float,
        device: torch.device | str, say=lambda _: None) -> dict[str, MediaResult]:
    """Every media metric of the suite's media layout (suite.media_tasks()) for one trained method."""
    models = Models(read_weights(weights_file), device)
    tasks = suite.media_tasks()
    n = min(samples, suite.test_size())
    if time_limit > 0:
        n = plan_items(seconds_per_item(MediaStage(suite, method, models, 2, batch_size), tasks), time_limit, n)
    stage = MediaStage(suite, method, models, n, batch_size)
    out: dict[str, MediaResult] = {}
    for sources, targets, cells in tasks:
        say(f"media {'+'.join(sources) or 'unconditional'} -> {'+'.join(targets)}")
        if not method.capabilities.supports(len(sources)):
            out.update({key: MediaResult(None, ideal(higher), status="unsupported") for key, higher, _ in cells})
            continue
        try:
            decoded = stage.items(sources, targets)
        except MissingWeights as err:
            out.update({key: skipped(err, higher) for key, higher, _ in cells})
            continue
        for key, higher, score in cells:
            out[key] = guarded(lambda score=score, decoded=decoded: score(stage, decoded), higher, n)
    return out
