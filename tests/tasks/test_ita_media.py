"""The image–text–audio media stage end to end with tiny random models of the real architectures (no downloads):
a user's embedding files with captions, a weights file of local paths, `bench run --set media.weights=...`; records
carry the media metrics with status ok, and skipped (naming what is missing) where a model or field is absent."""
import json

import numpy as np
import pytest
import yaml

from bench.cli import main
from tasks.image_text_audio import data as ita

pytest.importorskip("diffusers")  # the `media` extra; CI installs it

WIDTHS = dict(text_dim=24, image_dim=16, audio_dim=16)  # the tiny text projector's, CLIP's and CLAP's widths
WORDS = ["a dog", "two cats", "the sea", "a red car", "birds sing", "rain falls"]


def write_files(root, arrays):
    root.mkdir()
    (root / "meta.json").write_text(json.dumps({"encoders": {"text": "t", "image": "clip", "audio": "clap"}}))
    rng = np.random.default_rng(0)
    for stem, members in ita.expected_files().items():
        fields = {m: arrays[f"{stem}/{m}"] for m in members}
        n = len(fields[members[0]])
        if stem.startswith("test") and "text" in members:
            fields["captions"] = np.array([[WORDS[(i + j) % 6] for j in range(2)] for i in range(n)])
        if stem in ("test_ia", "test_tia"):
            fields["clip_b32_image"] = rng.standard_normal((n, 16)).astype(np.float32)
        np.savez(root / f"{stem}.npz", **fields)


@pytest.fixture(scope="module")
def media_run(tmp_path_factory):
    from tests.metrics.tiny_judges import tiny_clap, tiny_clip
    from tests.tasks.tiny_decoders import tiny_audioldm, tiny_gemma, tiny_prefix_projector, tiny_unclip

    root = tmp_path_factory.mktemp("media")
    arrays = ita.generate(ita.ImageTextAudioData(**WIDTHS, d_all=3, d_pair=3, d_priv=4, components=4, n_train=1100,
                                                 n_test=16, n_triplets=32))
    write_files(root / "emb", arrays)
    models = root / "models"
    weights = {"unclip": tiny_unclip(models), "audioldm": tiny_audioldm(models), "text_lm": tiny_gemma(models),
               "text_projector": tiny_prefix_projector(models), "clip": tiny_clip(models),
               "clip_b32": models / "clip", "clap": tiny_clap(models)}  # no wav2clip: AIS is skipped
    (root / "weights.yaml").write_text(yaml.safe_dump({k: str(v) for k, v in weights.items()}))
    out = root / "out"
    # one worker: the cells run in this process, which loads the decoders' libraries once for both
    code = main(["run", "--suite", "image_text_audio", "--profile", "smoke", "--methods", "muni,flowbind", "--quiet",
                 "--workers", "1", "--out", str(out), "--set", "data.source=files",
                 "--set", f"data.root={root / 'emb'}",
                 "--set", "train.steps=4", "--set", "train.warmup_steps=0", "--set", "train.batch_size=64",
                 "--set", f"media.weights={root / 'weights.yaml'}", "--set", "media.samples=4"])
    records = {p.parent.name: json.loads(p.read_text()) for p in out.rglob("*-seed0.json")}
    return code, records, root


@pytest.mark.slow  # the media stage end to end, with tiny real models
def test_records_carry_the_media_metrics_scored_on_decoded_media(media_run):
    code, records, _ = media_run
    assert code == 0 and records["muni"]["status"] == "ok"
    metrics = records["muni"]["metrics"]
    clip = metrics["media:clip_score/one_to_one/text to image"]
    assert clip["status"] == "ok" and clip["value"] >= 0 and clip["n"] == 4 and clip["judge"] == "clip"
    assert metrics["media:clap_score/one_to_one/audio to text"]["status"] == "ok"
    assert metrics["media:cider_d/one_to_one/image to text"]["tokenizer"] in ("ptb", "python")
    fd = metrics["media:frechet_image/one_to_one/text to image"]
    assert fd["metric"] == "fd_clip" and fd["comparable"] is False and fd["value"] >= 0
    assert metrics["media:frechet_audio/unconditional/audio"]["encoder"] == "clap"
    assert "spearman_with_embedding_judge" in metrics["media:clip_score/many_to_one/text vs image"]
    assert records["muni"]["wall_time"]["media"] > 0


@pytest.mark.slow  # the media stage end to end, with tiny real models
def test_a_missing_model_is_skipped_with_its_name_and_an_unsupported_task_says_so(media_run):
    _, records, _ = media_run
    ais = records["muni"]["metrics"]["media:audio_image_score/one_to_one/image to audio"]
    assert ais["status"] == "skipped" and ais["value"] is None and "wav2clip" in ais["missing"][0]
    uncond = records["flowbind"]["metrics"]["media:clip_score/unconditional/text-image"]
    assert uncond["status"] == "unsupported" and uncond["value"] is None


@pytest.mark.slow  # the media stage end to end, with tiny real models
def test_a_bad_weights_file_is_one_line_before_training(media_run, tmp_path, capsys):
    _, _, root = media_run
    bad = tmp_path / "weights.yaml"
    bad.write_text("clip: /somewhere\nclipp: /elsewhere\n")
    argv = ["run", "--suite", "image_text_audio", "--profile", "smoke", "--methods", "muni", "--quiet",
            "--out", str(tmp_path / "out"), "--set", "data.source=files", "--set", f"data.root={root / 'emb'}",
            "--set", "train.batch_size=64"]
    for weights, message in ((bad, "unknown models clipp; known: unclip"), (tmp_path / "none.yaml", "no such file")):
        assert main([*argv, "--set", f"media.weights={weights}"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert main(["run", "--suite", "gaussian_mixture", "--profile", "smoke", "--methods", "muni", "--quiet",
                 "--out", str(tmp_path / "gm"), "--set", f"media.weights={bad}"]) == 2
    assert "has no media stage; suites with one: image_text_audio" in capsys.readouterr().err


@pytest.mark.slow  # the media stage end to end, with tiny real models
def test_the_report_lays_the_media_metrics_out_beside_the_paper_and_the_embedding_judges(media_run, tmp_path):
    from bench.report.page import write_report

    _, _, root = media_run
    written = write_report("image_text_audio", root / "out", tmp_path / "reports", profile="smoke")
    text = next(p for p in written if p.suffix == ".md").read_text()
    section = text.split("## Media metrics")[1]
    assert "| muni |" in section and "| flowbind |" in section and "unsupported" in section
    assert "### One-to-one (as in Tables 8 and 9)" in section and "not comparable" in section
    assert "### Embedding-level judge against media metric, per item" in section
    assert "### Skipped, and what was missing" in section and "wav2clip" in section


def test_the_planner_sizes_items_to_the_time_limit():
    from tasks.image_text_audio.media import plan_items

    assert plan_items(2.0, 100.0, 500) == 50  # 2 s per item, 100 s: 50 items
    assert plan_items(2.0, 1.0, 500) == 4  # never fewer than the scores need
    assert plan_items(0.01, 100.0, 500) == 500  # never more than asked
    assert plan_items(2.0, 0.0, 64) == 64  # no limit


def test_the_warm_up_times_each_decoder_once_and_sums_what_every_task_decodes():
    import time

    from metrics.media.judges import MissingWeights
    from tasks.image_text_audio.media import seconds_per_item

    class Stage:
        n = 2
        cost = {"image": 0.02, "audio": 0.01}
        seen: list = []

        def items(self, sources, targets):
            self.seen.append(targets)
            if targets == ("text",):
                raise MissingWeights("text_lm")  # a decoder that cannot load costs nothing
            time.sleep(self.cost[targets[0]] * self.n)

    tasks = [(("text",), ("image",), []), (("image",), ("audio",), []), (("audio",), ("image",), []),
             (("image",), ("text",), []), (("text", "audio"), ("image",), []), ((), ("text", "image", "audio"), [])]
    stage = Stage()
    per_item = seconds_per_item(stage, tasks)
    assert stage.seen == [("image",), ("audio",), ("text",)]  # one warm-up per decoder
    assert per_item == pytest.approx(4 * 0.02 + 2 * 0.01, rel=0.5)  # images in four tasks, audio in two
