"""The validation split of every suite: quick checks during training read validation tuples only (never a test tuple,
and reference rows apart from the test set), and validation tuples are drawn apart from the training and test tuples
— PolyMNIST from held-out training digits, image–text–audio from fresh synthetic draws, a user's validation files or
a held-out share of their training pairs."""
import json

import numpy as np
import pytest
import torch

from bench.cli import main
from bench.core.config import resolve
from bench.run.cell import quick_checks
from bench.run.train import EMA
from methods import METHODS
from tasks import SUITES
from tasks.evaluation import Task
from tasks.image_text_audio import data as ita
from tasks.image_text_audio.suite import ImageTextAudio
from tasks.polymnist_quadrant_labels import data as pq
from tests.tasks.test_image_text_audio import write_flowbind_layout

SUITE_NAMES = ("gaussian_mixture", "polymnist_quadrant_labels", "image_text_audio")
ITA_SMALL = dict(text_dim=24, image_dim=24, audio_dim=16, d_all=3, d_pair=3, d_priv=4, components=4, n_train=1100,
                 n_test=40, n_triplets=80, n_val=30)
PQ_SMALL = dict(canvas=16, digit_size=8, n_train=300, n_test=90, n_val=60)
# a verifier of one step reads nothing, and need not: these checks are of which tuples are read, not of the values
FAST = {"polymnist_quadrant_labels": ["data.verifier_steps=1", "data.verifier_min_accuracy=0"]}


def shares_rows(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether any row of a equals a row of b."""
    a, b = a.flatten(1), b.flatten(1)
    return bool((a[:, None, :] == b[None, :, :]).all(-1).any())


def held_test_rows(suite) -> dict[str, torch.Tensor]:
    """Every test row of the suite, per column: test pairs and all test triplets for image–text–audio."""
    if isinstance(suite, ImageTextAudio):
        sets = [suite.tensors(rows, device="cpu") for name, rows in suite.sets.items() if name.startswith("test_")]
        return {k: torch.cat([s[k] for s in sets if k in s]) for k in {k for s in sets for k in s}}
    return suite.split("test", "cpu")


def guard_the_test_set(suite, monkeypatch) -> list[str]:
    """test_rows raises while validation is evaluated; reference_rows then must share no row with the test set, nor
    with the validation tuples evaluated. Returns the list that records the task of every validation_rows call."""
    held, reference_rows, validation_rows = held_test_rows(suite), suite.reference_rows, suite.validation_rows
    read, evaluated = [], []

    def no_test_rows(n, task=None):
        raise AssertionError(f"test rows read while evaluating {suite.evaluated_split}")

    def apart_from_test(n, task=None):
        rows = reference_rows(n, task)
        if suite.evaluated_split == "validation":
            for what, against in (("test", [held]), ("evaluated validation", evaluated)):
                shared = [k for k, x in rows.items() for other in against
                          if x.dim() > 1 and k in other and shares_rows(x.cpu(), other[k].cpu())]
                assert not shared, f"reference rows share {what} rows in {shared}"
        return rows

    def recorded(n, task=None):
        read.append(task.group if task else "")
        evaluated.append(validation_rows(n, task))
        return evaluated[-1]

    monkeypatch.setattr(suite, "test_rows", no_test_rows)
    monkeypatch.setattr(suite, "reference_rows", apart_from_test)
    monkeypatch.setattr(suite, "validation_rows", recorded)
    return read


def quick_check(suite, cfg) -> dict:
    """The quick evaluation at the end of 8 training steps (not the eval.rung step: no test evaluation)."""
    method = METHODS.get("muni")(suite.specs, cfg.model, cfg.flow, cfg.options)
    check = quick_checks(suite, cfg, steps=8, device=torch.device("cpu"))
    return check(8, EMA(method, cfg.train.ema_decay))


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_quick_checks_read_validation_tuples_and_never_a_test_tuple(name, monkeypatch):
    cfg = resolve(name, "muni", 0, "smoke", FAST.get(name))
    suite = SUITES.get(name)(cfg.data)
    suite.device = "cpu"
    read = guard_the_test_set(suite, monkeypatch)
    found = quick_check(suite, cfg)
    assert found["split"] == "validation" and "rung" not in found
    assert found["n"] == min(cfg.eval.n_samples, cfg.eval.progress_samples) <= suite.validation_size()
    assert {t.group for t in suite.tasks()} <= set(read)
    assert all(found["metrics"][spec.key] is not None for spec in suite.table)
    assert found["oracle"] and all(not k.startswith("reference:") for k in found["metrics"])


# --- PolyMNIST: validation tuples from held-out training digits ------------------------------------------------

def test_polymnist_validation_digits_are_held_out_of_training_and_apart_from_test():
    cfg = pq.PolyMnistQuadrantLabelsData(**PQ_SMALL)
    source = pq.load_sklearn_digits(cfg.test_fraction, cfg.seed)
    data = pq.generate(cfg)
    assert data["m1/val"].shape == (60, 3, 16, 16) and data["digit/val"].shape == (60,)
    train, val = np.unique(data["source/train"]), np.unique(data["source/val"])  # both index the training digits
    assert not np.intersect1d(train, val).size
    held = np.flatnonzero(pq.held_out_for_validation(source["train"][1], cfg.val_fraction, cfg.seed))
    assert set(val) <= set(held) and not set(train) & set(held)
    test_digits = {image.tobytes() for image in source["test"][0]}
    assert not any(source["train"][0][i].tobytes() in test_digits for i in val)
    labels = source["train"][1]
    for k in range(3):  # validation tuples are built like the others: one digit, three hands
        np.testing.assert_array_equal(labels[data["source/val"][:, k]], data["digit/val"])
    assert (data["source/val"][:, 0] != data["source/val"][:, 1]).all()


def test_polymnist_holds_out_a_share_of_each_class_and_refuses_too_small_a_share():
    cfg = pq.PolyMnistQuadrantLabelsData(**PQ_SMALL)
    labels = pq.load_sklearn_digits(cfg.test_fraction, cfg.seed)["train"][1]
    held = pq.held_out_for_validation(labels, 0.1, cfg.seed)
    for d in range(10):
        assert held[labels == d].sum() == round((labels == d).sum() * 0.1)
    np.testing.assert_array_equal(held, pq.held_out_for_validation(labels, 0.1, cfg.seed))  # seeded
    with pytest.raises(pq.DataSourceError, match="data.val_fraction=0.01"):
        pq.held_out_for_validation(labels, 0.01, cfg.seed)
    with pytest.raises(ValueError, match="val_fraction must lie in"):
        pq.PolyMnistQuadrantLabelsData(val_fraction=1.0)
    with pytest.raises(ValueError, match="n_val must be at least 1"):
        pq.PolyMnistQuadrantLabelsData(n_val=0)


# --- image–text–audio: synthetic draws, a user's files, FlowBind's layout --------------------------------------

def test_synthetic_validation_sets_are_fresh_draws_that_leave_the_other_sets_as_they_were():
    arrays = ita.generate(ita.ImageTextAudioData(**ITA_SMALL))
    fewer = ita.generate(ita.ImageTextAudioData(**{**ITA_SMALL, "n_val": 5}))
    assert all(np.array_equal(x, fewer[k]) for k, x in arrays.items() if not k.startswith("val_"))
    assert arrays["val_ti/text"].shape == (30, 24) and arrays["val_tia/audio"].shape == (80, 16)
    val = np.concatenate([arrays[f"val_{s}/factor_all"] for s in (*ita.PAIRS, ita.TRIPLETS)])
    for name in (*(f"train_{p}" for p in ita.PAIRS), *(f"test_{p}" for p in ita.PAIRS), "test_tia"):
        assert not shares_rows(torch.from_numpy(val), torch.from_numpy(arrays[f"{name}/factor_all"])), name


def write_files(root, arrays, validation=()):
    """A user's embedding files from synthetic arrays, with the named validation files."""
    root.mkdir(exist_ok=True)
    (root / "meta.json").write_text(json.dumps({"encoders": {"text": "t", "image": "i", "audio": "a"}}))
    files = ita.expected_files() | {s: m for s, m in ita.validation_files().items() if s in validation}
    for stem, members in files.items():
        np.savez(root / f"{stem}.npz", **{m: arrays[f"{stem}/{m}"] for m in members})


@pytest.fixture(scope="module")
def synthetic_arrays():
    return ita.generate(ita.ImageTextAudioData(**ITA_SMALL))


def files_suite(root, arrays, validation=()) -> ImageTextAudio:
    write_files(root, arrays, validation)
    suite = ImageTextAudio(ita.ImageTextAudioData(**{**ITA_SMALL, "source": "files", "root": str(root)}))
    suite.device = "cpu"
    return suite


def row_set(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


def among(rows: np.ndarray, pool: np.ndarray) -> bool:
    """Whether every row (standardised and back, so up to rounding) is a row of the pool."""
    return bool(np.isclose(rows[:, None, :], pool[None], atol=1e-4).all(-1).any(1).all())


def test_files_hold_out_a_seeded_share_of_training_apart_from_the_judges_rows(tmp_path, synthetic_arrays):
    suite = files_suite(tmp_path / "emb", synthetic_arrays)
    cfg = suite.data_config
    for p, (a, _) in ita.PAIRS.items():
        everything = synthetic_arrays[f"train_{p}/{a}"]
        train, val, judge = (row_set(rows[a]) for rows in (suite.train[p], suite.sets[f"val_{p}"],
                                                           suite.judge_rows[p]))
        assert len(val) == ita.validation_share(cfg, len(everything))
        assert len(judge) == ita.judge_rows(cfg, len(everything))
        assert not (train & val or train & judge or val & judge) and train | val | judge == row_set(everything)
        assert not val & row_set(synthetic_arrays[f"test_{p}/{a}"])
    assert ita.training_rows(cfg) == sum(len(suite.train[p][a]) for p, (a, _) in ita.PAIRS.items())
    again = files_suite(tmp_path / "again", synthetic_arrays)  # the same share every time
    assert all(np.array_equal(again.sets[f"val_{p}"][a], suite.sets[f"val_{p}"][a]) for p, (a, _) in ita.PAIRS.items())


def test_files_without_validation_triplets_leave_2to1_out_of_validation_only(tmp_path, synthetic_arrays):
    suite = files_suite(tmp_path / "emb", synthetic_arrays)
    suite.evaluated_split = "validation"
    groups = {t.group for t in suite.tasks()}
    assert "many_to_one" not in groups and "unconditional" in groups
    assert not any(t.group == "diversity" and len(t.sources) == 2 for t in suite.tasks())
    evaluated, reference = suite.validation_rows(1000), suite.reference_rows(1000)
    validation = {m: np.concatenate([suite.sets[f"val_{p}"][m] for p in ita.PAIRS if m in ita.PAIRS[p]])
                  for m in ita.MODALITIES}
    training = {m: np.concatenate([suite.train[p][m] for p in ita.PAIRS if m in ita.PAIRS[p]]) for m in ita.MODALITIES}
    for m in ita.MODALITIES:  # stand-ins: validation pairs evaluated, training pairs the co-generation reference
        assert len(evaluated[m]) == len(reference[m]) == min(len(x) for x in validation.values())
        assert among(suite.raw(m, evaluated[m]).numpy(), validation[m])
        assert among(suite.raw(m, reference[m]).numpy(), training[m])
    suite.evaluated_split = "test"
    assert "many_to_one" in {t.group for t in suite.tasks()}


def test_quick_checks_on_files_without_validation_triplets_score_co_generation_but_not_2to1(
        tmp_path, synthetic_arrays, monkeypatch):
    write_files(tmp_path / "emb", synthetic_arrays)
    cfg = resolve("image_text_audio", "muni", 0, "smoke", ["data.source=files", f"data.root={tmp_path / 'emb'}"])
    suite = ImageTextAudio(cfg.data)
    suite.device = "cpu"
    read = guard_the_test_set(suite, monkeypatch)
    found = quick_check(suite, cfg)
    assert "many_to_one" not in read and "unconditional" in read
    for spec in suite.table:
        assert (found["metrics"][spec.key] is None) == (spec.direction == "many_to_one"), spec.key
    assert found["metrics"]["unconditional/frechet"] is not None


def test_validation_files_are_used_as_given_and_the_triplets_bring_2to1_back(tmp_path, synthetic_arrays):
    suite = files_suite(tmp_path / "emb", synthetic_arrays, ("val_ti", "val_tia"))
    np.testing.assert_array_equal(suite.sets["val_ti"]["text"], synthetic_arrays["val_ti/text"])
    n = len(synthetic_arrays["train_ti/text"])
    assert len(suite.train["ti"]["text"]) == n - ita.judge_rows(suite.data_config, n)  # nothing held out for it
    assert len(suite.train["ta"]["text"]) < len(synthetic_arrays["train_ta/text"]) - 2  # held out: no val_ta.npz
    suite.evaluated_split = "validation"
    assert "many_to_one" in {t.group for t in suite.tasks()}
    half = len(synthetic_arrays["val_tia/text"]) // 2
    rows = suite.validation_rows(1000, Task("many_to_one", ("text", "image"), ("audio",)))
    reference = suite.reference_rows(1000)
    np.testing.assert_allclose(suite.raw("audio", rows["audio"]).numpy(), synthetic_arrays["val_tia/audio"][:half],
                               atol=1e-4)
    np.testing.assert_allclose(suite.raw("audio", reference["audio"]).numpy(),
                               synthetic_arrays["val_tia/audio"][half:2 * half], atol=1e-4)
    assert suite.describe()["validation_triplets"] == 2 * half


def test_a_malformed_validation_file_is_one_line_before_training(tmp_path, synthetic_arrays, capsys):
    write_files(tmp_path / "emb", synthetic_arrays, ("val_ia",))
    np.savez(tmp_path / "emb" / "val_ia.npz", image=synthetic_arrays["val_ia/image"],
             audio=np.zeros((30, 15), np.float32))
    code = main(["run", "--suite", "image_text_audio", "--profile", "smoke", "--methods", "mopoe", "--quiet",
                 "--out", str(tmp_path / "out"), "--set", "data.source=files", "--set",
                 f"data.root={tmp_path / 'emb'}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "val_ia.npz: 'audio' is 15-d but" in err


def test_flowbind_holds_out_validation_pairs_and_reads_validation_triplets_beside_feats(tmp_path, synthetic_arrays):
    write_flowbind_layout(tmp_path, synthetic_arrays)
    np.savez(tmp_path / "val_tia.npz", **{m: synthetic_arrays[f"val_tia/{m}"] for m in ita.MODALITIES})
    cfg = ita.ImageTextAudioData(**{**ITA_SMALL, "source": "flowbind", "root": str(tmp_path)})
    suite = ImageTextAudio(cfg)
    info = suite.describe()
    assert info["validation_triplets"] == 80
    assert ImageTextAudio.training_rows(cfg) == sum(info["train_pairs"].values())
    for p, (a, _) in ita.PAIRS.items():
        assert info["validation_pairs"][p] == ita.validation_share(cfg, len(synthetic_arrays[f"train_{p}/{a}"]))
        assert not row_set(suite.sets[f"val_{p}"][a]) & row_set(suite.train[p][a])
