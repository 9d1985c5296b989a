"""A catalogue of mistakes a user can make on the command line. Each must be caught before any work: exit status
2, one line on stderr that says what is wrong (and, for unknown names, what is available), no traceback, and
nothing written."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main

RUN = ["run", "--profile", "smoke"]
TUNE = ["tune", "--profile", "smoke"]
ITA_FILES = RUN + ["--suite", "image_text_audio", "--set", "data.source=files", "--set", "train.batch_size=32"]
CATALOGUE = [
    # names and lists
    (["run", "--methods", "munii"], "unknown method 'munii'; available: muni, muni_hellinger"),
    (["run", "--methods", ""], "--methods is empty"),
    (["run", "--methods", " , "], "--methods ' , ' has an empty item"),
    (["run", "--methods", "muni,,mopoe"], "--methods 'muni,,mopoe' has an empty item"),
    (["run", "--seeds", "0,,1"], "--seeds '0,,1' has an empty item"),
    (["run", "--suite", "polymnist"], "unknown suite 'polymnist'; available: gaussian_mixture"),
    (["run", "--profile", "fast"], "unknown profile 'fast'; available: smoke, cpu, cpu_wide, cpu_long, paper"),
    (["run", "--suite", "polymnist_quadrant_labels", "--profile", "cpu_long"],
     "profile 'cpu_long' has no settings for suite 'polymnist_quadrant_labels'; it has: gaussian_mixture"),
    (["run", "--seeds", "0,x"], "--seeds expects comma-separated integers"),
    (["run", "--seeds", ""], "--seeds is empty"),
    (["run", "--seeds", "-1"], "--seeds: -1 is out of range"),
    (["run", "--seeds", "99999999999"], "--seeds: 99999999999 is out of range"),
    (["run", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["run", "--workers", "-1"], "argument --workers: must be 0 (auto) or a positive number, got -1"),
    (["run", "--workers", "two"], "argument --workers: expects a whole number, got 'two'"),
    (["run", "--out", ""], "argument --out: is empty"),
    (["run", "--tracking-uri", " "], "--tracking-uri is empty"),
    (["run", "--bogus-flag"], "unrecognized arguments: --bogus-flag"),
    (["run", "--profile", "smoke", "--out", "/sys/results"], "--out /sys/results: /sys is not writable"),
    (["report", "--results", "/sys", "--out", "/sys/reports"], "--out /sys/reports: /sys is not writable"),
    (["fly"], "invalid choice: 'fly'"),
    (["list", "gadgets"], "invalid choice: 'gadgets'"),
    # --set keys and types
    (RUN + ["--set", "train.stepz=3"], "did you mean train.steps?"),
    (RUN + ["--set", "trian.steps=3"],
     "unknown section 'trian'; available: data, model, flow, train, eval, media, muni"),
    (RUN + ["--set", "train.steps"], "--set expects section.field=value"),
    (RUN + ["--set", "train.steps=3", "--set", "train.steps=4"],
     "--set train.steps is given twice ('3' and '4'); give it once"),
    (RUN + ["--set", "train.steps=abc"], "train.steps expects an integer, got 'abc'"),
    (RUN + ["--set", "model.encoder_width=1.5"], "model.encoder_width expects an integer, got '1.5'"),
    (RUN + ["--set", "muni.detach_self=maybe"], "muni.detach_self expects true or false, got 'maybe'"),
    (RUN + ["--methods", "muni", "--set", "mopoe.prior_on=assigned"], "method 'mopoe' is not in this run"),
    # ranges
    (RUN + ["--set", "train.steps=0"], "steps must be at least 1, not 0"),
    (RUN + ["--set", "train.steps=-5"], "steps must be at least 1, not -5"),
    (RUN + ["--set", "train.batch_size=0"], "batch_size must be at least 1, not 0"),
    (RUN + ["--set", "train.lr=nan"], "train.lr expects a finite number, got 'nan'"),
    (RUN + ["--set", "train.lr=inf"], "train.lr expects a finite number, got 'inf'"),
    (RUN + ["--set", "train.lr=-1"], "lr must be positive, not -1.0"),
    (RUN + ["--set", "train.lr=0"], "lr must be positive, not 0.0"),
    (RUN + ["--set", "train.warmup_steps=-1"], "warmup_steps must be at least 0, not -1"),
    (RUN + ["--set", "train.warmup_steps=99999"], "warmup_steps (99999) must be shorter than the run (steps=40)"),
    (RUN + ["--set", "train.grad_clip=-1"], "grad_clip must be at least 0, not -1.0"),
    (RUN + ["--set", "train.ema_decay=1.5"], "ema_decay must lie in [0, 1), not 1.5"),
    (RUN + ["--set", "train.beta1=1"], "beta1 must lie in [0, 1), not 1.0"),
    (RUN + ["--set", "train.log_every=0"], "log_every must be at least 1, not 0"),
    (RUN + ["--set", "train.checkpoint_every=-10"], "checkpoint_every must be at least 0, not -10"),
    (RUN + ["--set", "model.latent_dim=0"], "latent_dim must be at least 1, not 0"),
    (RUN + ["--set", "model.decoder_blocks=-2"], "decoder_blocks must be at least 1, not -2"),
    (RUN + ["--set", "model.backbone=transformer"], "unknown backbone 'transformer'; available: flow, classic"),
    (RUN + ["--set", "model.decoder_scale=fixed"], "unknown decoder_scale 'fixed'; available: optimal, learned"),
    (RUN + ["--set", "eval.gaussian_output=modes"], "unknown gaussian_output 'modes'; available: samples, means"),
    (RUN + ["--set", "flow.t_min=0"], "need 0 < t_min < t_max <= 1"),
    (RUN + ["--set", "flow.t_max=2"], "need 0 < t_min < t_max <= 1"),
    (RUN + ["--set", "flow.timestep_std=0"], "timestep_std must be positive"),
    (RUN + ["--set", "flow.prior_steps=0"], "prior_steps must be at least 1, not 0"),
    (RUN + ["--set", "flow.encoder_grad_scale=-0.1"], "encoder_grad_scale must be at least 0.0, not -0.1"),
    (RUN + ["--set", "eval.n_samples=0"], "n_samples must be at least 1, not 0"),
    (RUN + ["--set", "eval.swd_projections=0"], "swd_projections must be at least 1, not 0"),
    (RUN + ["--set", "eval.figure_samples=-1"], "figure_samples must be at least 0, not -1"),
    (RUN + ["--set", "data.d_priv=0"], "d_priv must be at least 1, not 0"),
    (RUN + ["--set", "data.weights=zipf"], "weights must be one of uniform, dirichlet, not 'zipf'"),
    (RUN + ["--set", "data.seed=-1"], "seed must be at least 0, not -1"),
    (RUN + ["--set", "data.std_min=0"], "need 0 < std_min <= std_max"),
    (RUN + ["--methods", "muni", "--set", "muni.route_mode=sometimes"], "route_mode must be one of mc, exact"),
    (RUN + ["--methods", "muni", "--set", "muni.recon_fraction=2"], "recon_fraction must lie in [0, 1]"),
    (RUN + ["--methods", "mvae", "--set", "mvae.random_subsets=-1"], "random_subsets must be at least 0"),
    (RUN + ["--methods", "shala", "--set", "shala.stage1_fraction=1"], "stage1_fraction must lie in (0, 1)"),
    # rules across fields
    (RUN + ["--set", "data.n_train=100"], "train.batch_size (128) is larger than the training set (100 tuples"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--set", "data.canvas=10"], "canvas must be a power of two"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--set", "data.source=mnist"], "source=mnist needs data.mnist_dir"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--set", "data.source=mnist", "--set",
            "data.mnist_dir=/nonexistent/mnist"],
     "MNIST file /nonexistent/mnist/train-images-idx3-ubyte[.gz] not found"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--set", "data.background_dir=/nonexistent"],
     "background_dir /nonexistent is not a directory"),
    (RUN + ["--suite", "image_text_audio", "--methods", "mvae"],
     "mvae cannot train on image_text_audio: it trains on complete tuples only"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--methods", "flowbind"],
     "flowbind cannot train on polymnist_quadrant_labels: it handles vector modalities only"),
    (RUN + ["--suite", "image_text_audio", "--set", "data.source=files"], "source=files needs data.root"),
    (RUN + ["--suite", "image_text_audio", "--set", "data.source=files", "--set", "data.root=empty"],
     "empty/meta.json is missing"),
    (RUN + ["--suite", "image_text_audio", "--set", "data.judge_fraction=0.7"], "judge_fraction must lie in (0, 0.5)"),
    # resources (issue 25): budgets of years, data beyond memory, evaluations on a handful of tuples
    (RUN + ["--set", "train.steps=1e12"], "1000000000000 training steps per cell would take at least"),
    (RUN + ["--set", "train.budget=samples", "--set", "train.budget_amount=1e15"], "training steps per cell would"),
    (RUN + ["--set", "train.budget=seconds", "--set", "train.budget_amount=1e9"],
     "train.budget_amount=1e+09 seconds per cell would take at least 11,574 days"),
    (RUN + ["--set", "data.n_train=1e12"], "data.n_train=1000000000000 data.n_test=512: the data would take"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--set", "data.n_train=1e10"], "TiB of memory, and this machine"),
    (RUN + ["--set", "data.n_test=1"], "data.n_test=1: the evaluation would use 1 test tuples"),
    (RUN + ["--set", "eval.n_samples=3"], "eval.n_samples=3: the evaluation would use 3 test tuples"),
    (RUN + ["--tracking-uri", "garbage"], "--tracking-uri garbage: not a tracking store MLflow can use"),
    (RUN + ["--tracking-uri", "ftp://host/store"], "--tracking-uri ftp://host/store: not a tracking store"),
    # data sources, read completely before any cell (issue 25): SRC is a folder of broken sources (sources())
    (ITA_FILES + ["--set", "data.root=SRC/emb_nan"], "'text' must hold finite floating-point values"),
    (ITA_FILES + ["--set", "data.root=SRC/emb_int"], "'image' must hold finite floating-point values"),
    (ITA_FILES + ["--set", "data.root=SRC/emb_key"], "train_ti.npz has no array 'image'"),
    (ITA_FILES + ["--set", "data.root=SRC/emb_dims"], "'audio' is 9-d but"),
    (ITA_FILES + ["--set", "data.root=SRC/emb_meta"], "meta.json must be JSON with an 'encoders' object"),
    (RUN + ["--suite", "image_text_audio", "--set", "data.source=flowbind", "--set", "data.root=SRC/fb_nofeats"],
     "fb_nofeats/feats is missing: FlowBind's layout"),
    (RUN + ["--suite", "image_text_audio", "--set", "data.source=flowbind", "--set", "data.root=SRC/fb_notriplets"],
     "test_tia.npz is missing: FlowBind's layout has no triplets"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--set", "data.background_dir=SRC/bg_none"],
     "bg_none has 0 images"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--set", "data.background_dir=SRC/bg_bad"],
     "cannot read background image"),
    (RUN + ["--suite", "polymnist_quadrant_labels", "--set", "data.source=mnist", "--set", "data.mnist_dir=SRC/mnist"],
     "is not an IDX file of unsigned bytes"),
    # the media stage: its file, and judges whose space is not the data's (issue 23)
    (ITA_FILES + ["--set", "data.root=SRC/emb_good", "--set", "media.weights=SRC/broken.yaml"],
     "broken.yaml is not YAML: expected ',' or ']', but got '<stream end>' at line 3, column 1"),
    (RUN + ["--suite", "image_text_audio", "--set", "media.weights=SRC/weights.yaml"],
     "media.weights needs data.source=files: the media stage's judges (CLIP, CLAP)"),
    (ITA_FILES + ["--set", "data.root=SRC/emb_other", "--set", "media.weights=SRC/weights.yaml"],
     "the judges score image with CLIP and audio with CLAP, so the test embeddings must be theirs"),
    # report
    (["report", "--results", "/nonexistent"], "--results /nonexistent does not exist"),
    (["report", "--suite", "nope"], "unknown suite 'nope'; available: gaussian_mixture"),
    (["report", "--out", ""], "argument --out: is empty"),
    (["report", "--results", "empty"], "no result records for suite 'gaussian_mixture' under empty/"),
    # perf
    (["perf", "--repeats", "0"], "argument --repeats: must be at least 1, got 0"),
    (["perf", "--steps", "x"], "argument --steps: expects a whole number, got 'x'"),
    (["perf", "--profile", "fast"], "unknown profile 'fast'"),
    (["perf", "--methods", "munii"], "unknown method 'munii'"),
    (["perf", "--set", "train.steps=abc"], "train.steps expects an integer, got 'abc'"),
    (["perf", "--profile", "smoke", "--set", "model.latent_dim=0"], "latent_dim must be at least 1, not 0"),
    (["perf", "--suite", "nope"], "unknown suite 'nope'"),
]
# tuning and tuned settings
TUNING = [
    (TUNE + ["--methods", "munii"], "unknown method 'munii'; available: muni, muni_hellinger"),
    (TUNE + ["--trials", "0"], "argument --trials: must be at least 1, got 0"),
    (TUNE + ["--seed", "-1"], "argument --seed: must be 0 or more, got -1"),
    (TUNE + ["--sampler-seed", "x"], "argument --sampler-seed: expects a whole number, got 'x'"),
    (TUNE + ["--space", "nofile.yaml"], "--space nofile.yaml: no such file"),
    (TUNE + ["--space", "SRC/broken.yaml"], "is not YAML"),
    (TUNE + ["--space", "SRC/space_data.yaml"], "data.n_train cannot be tuned; a space tunes settings every method"),
    (TUNE + ["--space", "SRC/space_bounds.yaml"], "train.lr needs finite low < high"),
    (TUNE + ["--space", "SRC/space_field.yaml"], "train.lr has unknown fields scale"),
    (TUNE + ["--set", "train.lr=0.001"], "--set train.lr: tuned over by the search space"),
    (TUNE + ["--set", "eval.progress_samples=0"], "eval.progress_samples=0 turns them off"),
    (TUNE + ["--set", "train.stepz=3"], "did you mean train.steps?"),
    (TUNE + ["--cell-threads", "2"], "--cell-threads is an option of --executor ray"),
    (RUN + ["--tuned", "nofile.yaml"], "--tuned nofile.yaml: no such file; give on, off or a tuned.yaml"),
    (RUN + ["--tuned", "SRC/broken.yaml"], "are not YAML"),
]
# paths in the way: a file where a directory is needed (created by the test before the command)
FILE_IN_THE_WAY = [
    (["run", "--profile", "smoke", "--out", "afile"], "--out afile: afile is a file, not a directory"),
    (["run", "--profile", "smoke", "--out", "afile/sub"], "--out afile/sub: afile is a file, not a directory"),
    (["run", "--profile", "smoke", "--out", "new/../afile"], "--out new/../afile: afile is a file, not a directory"),
    (["report", "--results", "afile"], "--results afile is not a directory"),
    (["perf", "--profile", "smoke", "--out", "afile"], "--out afile: afile is a file, not a directory"),
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """Broken data sources, each with one fault (and one good set of embedding files)."""
    from tasks.image_text_audio.data import expected_files

    root = tmp_path_factory.mktemp("sources")
    rng = np.random.default_rng(0)
    dims = {"text": 6, "image": 5, "audio": 4}

    def embeddings(name: str, fault: str = "", encoders: dict | None = None) -> None:
        folder = root / name
        folder.mkdir()
        meta = {"encoders": encoders or {"text": "gemma", "image": "clip-vit-l14", "audio": "laion-clap"}}
        (folder / "meta.json").write_text("not json" if fault == "meta" else json.dumps(meta))
        for stem, members in expected_files().items():
            arrays = {m: rng.standard_normal((60, dims[m])).astype(np.float32) for m in members}
            if stem == "train_ti" and fault == "nan":
                arrays["text"][3, 2] = np.nan
            if stem == "train_ia" and fault == "int":
                arrays["image"] = arrays["image"].astype(np.int64)
            if stem == "train_ti" and fault == "key":
                del arrays["image"]
            if stem == "test_tia" and fault == "dims":
                arrays["audio"] = rng.standard_normal((60, 9)).astype(np.float32)
            np.savez(folder / f"{stem}.npz", **arrays)

    for name, fault in (("emb_good", ""), ("emb_nan", "nan"), ("emb_int", "int"), ("emb_key", "key"),
                        ("emb_dims", "dims"), ("emb_meta", "meta")):
        embeddings(name, fault)
    embeddings("emb_other", encoders={"text": "gemma", "image": "resnet50", "audio": "vggish"})
    (root / "fb_nofeats").mkdir()
    pairs = root / "fb_notriplets" / "feats"
    for dataset, keys in (("coco", ("text", "image")), ("audiocaps", ("audio", "text")), ("vgg", ("image", "audio"))):
        (pairs / dataset).mkdir(parents=True)
        for i in range(3):
            np.savez(pairs / dataset / f"{i}.npz", **{k: rng.standard_normal(768).astype(np.float32) for k in keys})
    (root / "bg_none").mkdir()
    (root / "bg_none" / "readme.txt").write_text("no images here")
    (root / "bg_bad").mkdir()
    for i in range(3):
        (root / "bg_bad" / f"{i}.jpg").write_bytes(b"not a jpeg")
    (root / "mnist").mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (root / "mnist" / stem).write_bytes(b"garbage!")
    (root / "broken.yaml").write_text("clip: [1,\n unclip: 2\n")
    (root / "space_data.yaml").write_text("data.n_train: {low: 100, high: 200}\n")
    (root / "space_bounds.yaml").write_text("train.lr: {low: 0.01, high: 0.001, log: true}\n")
    (root / "space_field.yaml").write_text("train.lr: {low: 0.0001, high: 0.001, scale: log}\n")
    (root / "weights.yaml").write_text("clip: models/clip\n")
    return root


def in_place(argv: list[str], sources: Path, tmp_path: Path, monkeypatch) -> list[str]:
    """Run from tmp_path with the paths the catalogue names (a file, an empty folder), SRC pointing at sources."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a file, not a directory")
    (tmp_path / "empty").mkdir()
    return [a.replace("SRC", str(sources)) for a in argv]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"" for p in folder.rglob("*")}


@pytest.mark.parametrize("argv, message", CATALOGUE + TUNING + FILE_IN_THE_WAY)
def test_a_bad_input_is_one_clear_line_exit_2_and_nothing_written(argv, message, sources, tmp_path, monkeypatch,
                                                                  capsys):
    argv = in_place(argv, sources, tmp_path, monkeypatch)
    before = snapshot(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith("bench: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    assert snapshot(tmp_path) == before


API_CASES = [(argv, message) for argv, message in CATALOGUE + FILE_IN_THE_WAY if argv[0] == "run"]


@pytest.mark.parametrize("argv, message", API_CASES)
def test_the_python_api_refuses_the_same_bad_runs_before_anything_is_written(argv, message, sources, tmp_path,
                                                                             monkeypatch):
    """The same request built for bench.run.runner.run: the plan (bench/run/plan.py) refuses it, not the command
    line."""
    from base.registry import UnknownNameError
    from bench.cli import build_parser, request_from
    from bench.core.errors import ConfigError, UsageError
    from bench.run.runner import run

    argv = in_place(argv, sources, tmp_path, monkeypatch)
    try:
        request = request_from(build_parser().parse_args(argv))
    except UsageError:
        pytest.skip("a mistake of the command line's own syntax (argparse or a comma list)")
    before = snapshot(tmp_path)
    with pytest.raises((UsageError, ConfigError, UnknownNameError)) as caught:
        run(request)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert snapshot(tmp_path) == before


def test_the_catalogue_is_large_enough():
    assert len(CATALOGUE) + len(TUNING) + len(FILE_IN_THE_WAY) >= 40


def test_a_report_skips_damaged_records_and_samples_with_a_warning_naming_each(smoke_results, tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(smoke_results, results, ignore=shutil.ignore_patterns("checkpoints", "mlruns", "mlflow.db*"))
    folder = results / "gaussian_mixture" / "smoke" / "muni"
    good = sorted(folder.glob("*.json"))
    good[0].write_text(good[0].read_text()[:200])  # a truncated record
    missing = json.loads(good[1].read_text())
    del missing["metrics"]
    good[1].write_text(json.dumps(missing))  # a record without its metrics
    shala = next((results / "gaussian_mixture" / "smoke" / "shala").glob("*.json"))
    samples = shala.with_name(json.loads(shala.read_text())["samples"])
    samples.write_bytes(samples.read_bytes()[:100])  # truncated samples
    code = main(["report", "--results", str(results), "--out", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"skipping unreadable record {good[0]}" in err
    assert f"skipping record {good[1]}: field 'metrics' is missing" in err
    assert f"skipping the samples {samples}" in err
    assert (tmp_path / "reports" / "smoke" / "gaussian_mixture.md").exists()


def test_an_unreadable_folder_is_named_in_a_warning(smoke_results, tmp_path, monkeypatch, capsys):
    import os

    from bench.core.records import read_records

    real_scandir = os.scandir

    def scandir(path="."):
        if str(path).endswith("shala"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    records = read_records(smoke_results, "gaussian_mixture")
    assert {r["method"] for r in records} == {"muni"}
    assert "skipping unreadable folder" in capsys.readouterr().err
