"""PolyMNIST-Quadrant-Labels: deterministic, cached data with the pairing and quadrant structure of spec 5.3,
the MNIST IDX reader, the verifier gate, and every method through the suite at smoke size."""
import gzip

import numpy as np
import pytest
import torch

from bench.core.config import resolve
from bench.run.plan import trainable_on
from bench.run.train import train
from methods import METHODS
from methods.backbone.modality import Batch
from methods.base import Capabilities
from tasks import SUITES
from tasks.findings import NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED, UNDECIDED
from tasks.polymnist_quadrant_labels import data as pq
from tasks.polymnist_quadrant_labels.verifier import VerifierTooWeak, check_gate
from tests.bench.records import as_record

SUITE = "polymnist_quadrant_labels"
SMALL = dict(canvas=16, digit_size=8, n_train=300, n_test=90)


def quadrant_of(images: np.ndarray, background_free: np.ndarray) -> np.ndarray:
    """The quadrant (label convention of spec 5.2) whose pixels differ most from the digit-free image."""
    diff = np.abs(images.astype(int) - background_free.astype(int)).sum(1)  # (n, H, W)
    h = diff.shape[-1] // 2
    energy = {q: diff[:, r * h:(r + 1) * h, c * h:(c + 1) * h].sum((1, 2)) for q, (r, c) in pq.QUADRANT_OFFSETS.items()}
    return np.argmax(np.stack([energy[q] for q in range(4)], 1), 1)


def test_generation_is_deterministic_cached_and_split(tmp_path):
    cfg = pq.PolyMnistQuadrantLabelsData(**SMALL)
    first, digest = pq.load(cfg, tmp_path)
    assert len(list((tmp_path / SUITE).glob("*.npz"))) == 1
    again, digest_again = pq.load(cfg, tmp_path)
    fresh = pq.generate(cfg)
    assert digest == digest_again == pq.content_hash(fresh)
    for key in first:
        np.testing.assert_array_equal(first[key], fresh[key])
        np.testing.assert_array_equal(first[key], again[key])
    assert first["m1/train"].shape == (300, 3, 16, 16) and first["m1/train"].dtype == np.uint8
    assert first["digit/test"].shape == (90,) and first["quadrant/test"].dtype == np.int64
    other, other_digest = pq.load(pq.PolyMnistQuadrantLabelsData(**SMALL, seed=7), tmp_path)
    assert other_digest != digest and not np.array_equal(other["m1/train"], first["m1/train"])


def test_train_and_test_tuples_use_disjoint_digits():
    cfg = pq.PolyMnistQuadrantLabelsData(**SMALL)
    source = pq.load_sklearn_digits(cfg.test_fraction, cfg.seed)
    train_digits = {source["train"][0][i].tobytes() for i in range(len(source["train"][0]))}
    assert not any(img.tobytes() in train_digits for img in source["test"][0][:200])
    data = pq.generate(cfg)
    assert data["source/test"].max() < len(source["test"][0])


def test_quadrant_is_shared_by_the_three_images_and_matches_its_label():
    cfg = pq.PolyMnistQuadrantLabelsData(**SMALL, inversion="binary")
    data = pq.generate(cfg)
    blank = pq.generate(pq.PolyMnistQuadrantLabelsData(**SMALL, inversion="binary", mask_threshold=255))
    for m in pq.IMAGES:
        found = quadrant_of(data[f"{m}/train"], blank[f"{m}/train"])
        np.testing.assert_array_equal(found, data["quadrant/train"])
    assert set(np.unique(data["quadrant/train"])) == {0, 1, 2, 3}


def test_two_processes_filling_the_cache_at_once_both_succeed(tmp_path, monkeypatch):
    """Parallel cells build the same cache file: the second process finishes between the first one's write and
    its rename. Each writes its own temporary file, so neither rename loses the other's."""
    cfg = pq.PolyMnistQuadrantLabelsData(**SMALL)
    replace, pid, raced = pq.Path.replace, pq.os.getpid(), []

    def racing_replace(self, target):
        if not raced:
            raced.append(self)
            monkeypatch.setattr(pq.os, "getpid", lambda: pid + 1)
            pq.load(cfg, tmp_path)  # the other process, start to finish
            monkeypatch.setattr(pq.os, "getpid", lambda: pid)
        return replace(self, target)

    monkeypatch.setattr(pq.Path, "replace", racing_replace)
    arrays, digest = pq.load(cfg, tmp_path)
    assert raced and digest == pq.content_hash(arrays)
    assert [p.name for p in (tmp_path / SUITE).iterdir()] == [f"{cfg.key()}.npz"]


def test_tuples_share_the_digit_and_use_different_handwriting():
    cfg = pq.PolyMnistQuadrantLabelsData(**SMALL)
    source = pq.load_sklearn_digits(cfg.test_fraction, cfg.seed)
    labels = source["train"][1]
    data = pq.generate(cfg)
    idx = data["source/train"]  # (n, 3) source digit of each image
    for k in range(3):
        np.testing.assert_array_equal(labels[idx[:, k]], data["digit/train"])
    assert (idx[:, 0] != idx[:, 1]).all() and (idx[:, 0] != idx[:, 2]).all() and (idx[:, 1] != idx[:, 2]).all()


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_files_are_read_gzipped_or_not(tmp_path, compress):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    arrays = {}
    for split, (image_stem, label_stem) in pq.MNIST_FILES.items():
        images = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)  # six a class: three for validation
        labels = np.arange(60) % 10
        write_idx(tmp_path / (image_stem + suffix), images, compress)
        write_idx(tmp_path / (label_stem + suffix), labels, compress)
        arrays[split] = (images, labels)
    loaded = pq.load_mnist(tmp_path)
    for split, (images, labels) in arrays.items():
        np.testing.assert_array_equal(loaded[split][0], images)
        np.testing.assert_array_equal(loaded[split][1], labels)
    cfg = pq.PolyMnistQuadrantLabelsData(source="mnist", mnist_dir=str(tmp_path), canvas=16, digit_size=8,
                                         n_train=40, n_test=20, n_val=10, val_fraction=0.5)
    data = pq.generate(cfg)
    assert data["m2/test"].shape == (20, 3, 16, 16) and cfg.resolved_inversion == "binary"
    assert data["m2/val"].shape == (10, 3, 16, 16)


def test_missing_or_malformed_mnist_files_are_named(tmp_path):
    with pytest.raises(pq.DataSourceError, match="train-images-idx3-ubyte\\[.gz\\] not found"):
        pq.load_mnist(tmp_path)
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x12\x34\x56\x78rest")
    with pytest.raises(pq.DataSourceError, match="bad-idx3-ubyte is not an IDX file"):
        pq.read_idx(bad)
    short = tmp_path / "short-idx1-ubyte"
    write_idx(short, np.arange(10), compress=False)
    short.write_bytes(short.read_bytes()[:-3])
    with pytest.raises(pq.DataSourceError, match="short-idx1-ubyte is truncated"):
        pq.read_idx(short)
    broken = tmp_path / "broken-idx1-ubyte.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(pq.DataSourceError, match="cannot read MNIST file .*broken-idx1-ubyte.gz"):
        pq.read_idx(broken)


def test_background_directory_needs_three_images(tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "a.png")
    cfg = pq.PolyMnistQuadrantLabelsData(**SMALL, background_dir=str(tmp_path))
    with pytest.raises(pq.DataSourceError, match="has 1 images .* needs at least 3"):
        pq.background_paths(cfg)
    for name in ("b.jpg", "c.png"):
        Image.new("RGB", (50, 50), (10, 200, 10)).save(tmp_path / name)
    assert [p.name for p in pq.background_paths(cfg)] == ["a.png", "b.jpg", "c.png"]
    assert pq.generate(cfg)["m1/train"].shape == (300, 3, 16, 16)


def test_bad_data_config_is_rejected():
    with pytest.raises(ValueError, match="canvas must be a power of two"):
        pq.PolyMnistQuadrantLabelsData(canvas=24)
    with pytest.raises(ValueError, match="digit_size must lie in"):
        pq.PolyMnistQuadrantLabelsData(canvas=16, digit_size=12)
    with pytest.raises(ValueError, match="source=mnist needs data.mnist_dir"):
        pq.PolyMnistQuadrantLabelsData(source="mnist")


def test_verifier_gate_raises_below_the_threshold():
    accuracy = {"digit": {"m1": 0.99, "m2": 0.95, "m3": 0.94}, "quadrant": {"m1": 1.0, "m2": 1.0, "m3": 1.0}}
    with pytest.raises(VerifierTooWeak, match="digit accuracy on real test images is 0.9600, below "
                                              "data.verifier_min_accuracy=0.97"):
        check_gate(accuracy, 0.97)
    check_gate(accuracy, 0.95)


def test_a_weak_verifier_stops_the_suite():
    cfg = resolve(SUITE, "muni", 0, "smoke", ["data.verifier_steps=1", "data.verifier_min_accuracy=0.97"])
    with pytest.raises(VerifierTooWeak, match="raise data.verifier_steps"):
        SUITES.get(SUITE)(cfg.data)


@pytest.fixture(scope="module")
def smoke_suite():
    return SUITES.get(SUITE)(resolve(SUITE, "muni", 0, "smoke").data)


@pytest.mark.parametrize("name", trainable_on(SUITE, METHODS.names(), everything=True)[0])
def test_every_method_trains_and_evaluates_its_directions(name, smoke_suite):
    cfg = resolve(SUITE, name, 0, "smoke", ["train.steps=4", "train.warmup_steps=0", "eval.n_samples=16",
                                            "eval.batch_size=16", "flow.decoder_steps=2", "flow.prior_steps=2"])
    method = METHODS.get(name)(smoke_suite.specs, cfg.model, cfg.flow, cfg.options)
    ema, _ = train(method, smoke_suite, cfg.train, torch.device("cpu"))
    evaluation = smoke_suite.evaluate(ema.module, cfg.eval, "cpu")
    caps = method.capabilities
    supported = {"single_label/digit_alignment": caps.one_to_one, "single_label/quadrant_alignment": caps.one_to_one,
                 "multi_label/alignment": caps.many_to_one, "unconditional/coherence": caps.unconditional,
                 "cross_modal/coherence_2to1": caps.many_to_one}
    for key, ok in supported.items():
        result = evaluation.metrics[key]
        assert result.supported == ok, key
        if ok:
            assert 0.0 <= result.value <= 1.0 and result.per_direction
    assert evaluation.metrics["verifier/digit_accuracy"].value == pytest.approx(
        np.mean(list(smoke_suite.verifier_accuracy["digit"].values())))
    assert evaluation.samples["joint/m1"].shape == (10, 3, 16, 16) and evaluation.samples["joint/m1"].dtype == np.uint8
    assert evaluation.samples["conditional/m3"].shape == (10, 3, 16, 16)
    assert ("conditional/quadrant" in evaluation.samples) == caps.many_to_one


def test_describe_names_the_digit_source_and_backgrounds(smoke_suite):
    info = smoke_suite.describe()
    assert "NOT comparable" in info["digit_source"]
    assert [p.rsplit("/", 1)[-1] for p in info["backgrounds"]] == ["china.jpg", "flower.jpg", "grace_hopper.jpg"]
    assert set(info["verifier_accuracy"]) == {"digit", "quadrant"}


def test_train_batches_are_images_in_range_and_long_labels(smoke_suite):
    batch = next(smoke_suite.train_batches(8, "cpu"))
    assert isinstance(batch, Batch)
    assert batch.data["m1"].shape == (8, 3, 16, 16) and batch.data["m1"].dtype == torch.float32
    assert -1.0 <= float(batch.data["m2"].min()) and float(batch.data["m2"].max()) <= 1.0
    assert batch.data["digit"].dtype == torch.long and batch.data["quadrant"].max() < 4


def test_paper_reference_is_table_6_with_a_dash_for_shala_multi_label():
    paper = SUITES.get(SUITE).paper_reference()
    assert set(paper) == {"mvae", "mmvae", "mopoe", "helvae", "mmvae_plus", "shala", "muni"}
    assert paper["muni"]["unconditional/coherence"] == 0.4841
    assert paper["shala"]["multi_label/alignment"] is None
    assert set(paper["muni"]) == {spec.key for spec in SUITES.get(SUITE).table}


def findings_for(values: dict[str, dict[str, float]], n: int | None = 100_000) -> list[str]:
    """Findings on one-seed records whose bootstrap replicates carry the binomial noise of n test tuples
    (independent per method); n=None: records without replicates."""
    from base.results import Row
    from tasks.polymnist_quadrant_labels.findings import findings
    from tasks.polymnist_quadrant_labels.suite import PolyMnistQuadrantLabels

    config = {"data": {"source": "sklearn_digits", "n_train": 20000, "canvas": 16, "verifier_min_accuracy": 0.97},
              "train": {"steps": 1000, "batch_size": 64}}

    def entry(v: float, seed: int) -> dict:
        if n is None:
            return {"value": v}
        noise = np.random.default_rng(seed).standard_normal(200) * (v * (1 - v) / n) ** 0.5
        return {"value": v, "n": n, "replicates": list(v + noise)}
    rows = [Row(m, "h", [], [as_record({"seed": 0, "config": config,
                                        "metrics": {k: entry(v, i) for k, v in metrics.items()}})])
            for i, (m, metrics) in enumerate(values.items())]
    return findings(rows, {s.key: s for s in PolyMnistQuadrantLabels.table})


def test_findings_call_a_claim_untestable_when_every_method_is_at_chance():
    coherence = "unconditional/coherence"
    at_chance = findings_for({"muni": {coherence: 0.0}, "mvae": {coherence: 0.0}, "mopoe": {coherence: 0.01}})
    best = next(f for f in at_chance if f.claim.startswith("MUNI has the best"))
    assert best.verdict == NOT_TESTABLE and "of chance" in best.caveat
    learned = findings_for({"muni": {coherence: 0.4}, "mvae": {coherence: 0.0}, "mopoe": {coherence: 0.3}})
    assert next(f for f in learned if f.claim.startswith("MUNI has the best")).verdict == REPRODUCED
    lost = findings_for({"muni": {coherence: 0.2}, "mvae": {coherence: 0.0}, "mopoe": {coherence: 0.3}})
    assert next(f for f in lost if f.claim.startswith("MUNI has the best")).verdict == NOT_REPRODUCED


def test_a_gap_inside_the_noise_of_the_accuracies_is_a_tie():
    coherence = "unconditional/coherence"
    close = {"muni": {coherence: 0.40}, "mvae": {coherence: 0.0}, "mopoe": {coherence: 0.37}}
    def verdict(n: int | None) -> str:
        return next(f for f in findings_for(close, n) if f.claim.startswith("MUNI has the best")).verdict
    assert verdict(500) == UNDECIDED  # 1.96·SE of the gap at n = 500 is about 0.06
    assert verdict(100_000) == REPRODUCED
    assert verdict(None) == UNDECIDED  # one seed and no replicates: nothing is known of the noise


def test_findings_state_the_budget_in_passes_over_the_data():
    lines = findings_for({"muni": {"unconditional/coherence": 0.0}})
    assert any("1000 steps of 64 tuples, 3.2 passes over 20000" in f.claim and not f.is_claim for f in lines)


def test_findings_name_the_methods_above_chance_on_the_quadrant():
    quadrant = "single_label/quadrant_alignment"
    lines = findings_for({"muni": {quadrant: 0.26}, "mopoe": {quadrant: 0.95}})
    assert "above chance (> 0.30): mopoe; at chance: muni." in next(f.claim for f in lines if "above chance" in f.claim)


class RealImages:
    """An oracle generator: for every conditioning it returns real training tuples with the digit and quadrant
    the condition implies (given labels, or the labels of the test tuple whose image was given), and real
    training tuples as joint samples. Scored through the verifier it should reach what real images reach."""

    capabilities = Capabilities()

    def __init__(self, suite, n: int):
        self.train = suite.split("train", "cpu")
        test = suite.split("test", "cpu", n)
        self.tuple_of = {pq.to_uint8(pq.to_float(test[m][i])).numpy().tobytes(): (int(test["digit"][i]),
                                                                                   int(test["quadrant"][i]))
                         for m in pq.IMAGES for i in range(n)}

    def labels(self, batch, row: int) -> tuple[int, int]:
        if "digit" in batch.data or "quadrant" in batch.data:
            known = self.tuple_of.get(next((pq.to_uint8(batch.data[m][row]).numpy().tobytes()
                                            for m in pq.IMAGES if m in batch.data), b""), (None, None))
            return (int(batch.data["digit"][row]) if "digit" in batch.data else known[0],
                    int(batch.data["quadrant"][row]) if "quadrant" in batch.data else known[1])
        image = next(m for m in pq.IMAGES if m in batch.data)
        return self.tuple_of[pq.to_uint8(batch.data[image][row]).numpy().tobytes()]

    def donor(self, digit: int | None, quadrant: int | None, row: int) -> int:
        match = torch.ones(len(self.train["digit"]), dtype=torch.bool)
        if digit is not None:
            match &= self.train["digit"] == digit
        if quadrant is not None:
            match &= self.train["quadrant"] == quadrant
        candidates = match.nonzero().squeeze(1)
        return int(candidates[row % len(candidates)])

    def generate(self, batch, subset, targets):
        rows = [self.donor(*self.labels(batch, r), r) for r in range(batch.size)]
        return {t: pq.to_float(self.train[t][rows]) if t in pq.IMAGES else self.train[t][rows] for t in targets}

    def sample_joint(self, n):
        return {m: pq.to_float(x[:n]) if m in pq.IMAGES else x[:n] for m, x in self.train.items()}


def test_real_images_score_what_the_verifier_reads_on_real_images(smoke_suite):
    cfg = resolve(SUITE, "muni", 0, "smoke", ["eval.n_samples=64"]).eval
    metrics = smoke_suite.evaluate(RealImages(smoke_suite, 64), cfg, "cpu").metrics
    for key in ("single_label/digit_alignment", "single_label/quadrant_alignment", "multi_label/alignment",
                "unconditional/coherence", "cross_modal/coherence_1to1"):
        result, real = metrics[key], metrics[f"reference:oracle/{key}"]
        assert result.n == 64 and real.n == 64
        assert abs(result.value - real.value) < 3 * (result.se ** 2 + real.se ** 2) ** 0.5 + 0.05, \
            (key, result.value, real.value)
    assert metrics["single_label/quadrant_alignment"].value > 0.6  # far above chance (0.25): the pairing is right


def test_fid_on_co_generated_images_needs_inception_and_is_skipped_saying_why_without_it(smoke_suite, tmp_path,
                                                                                        monkeypatch):
    from metrics.media import judges

    cfg = resolve(SUITE, "muni", 0, "smoke", ["flow.decoder_steps=2", "flow.prior_steps=2"])
    method = METHODS.get("muni")(smoke_suite.specs, cfg.model, cfg.flow, cfg.options).eval()
    smoke_suite.device = "cpu"
    weights = tmp_path / "weights.yaml"
    weights.write_text("clip: /nowhere\n")
    results = smoke_suite.media(method, str(weights), 8, 4, 0.0, "cpu", print)
    assert {r.status for r in results.values()} == {"skipped"}
    assert "inception" in results["media:fid/unconditional/m1"].missing[0]
    (tmp_path / "inception.pth").write_bytes(b"")
    weights.write_text(f"inception: {tmp_path / 'inception.pth'}\n")
    if judges.inception(tmp_path / "inception.pth") is None:  # no torch-fidelity here: said, not scored otherwise
        missing = smoke_suite.media(method, str(weights), 8, 4, 0.0, "cpu", print)["media:fid/unconditional/m2"]
        assert missing.status == "skipped" and "torch-fidelity" in missing.missing[0]

    class Pool(torch.nn.Module):  # stands in for the Inception network: features of uint8 images
        def forward(self, images):
            return torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 2).flatten(1)

    monkeypatch.setattr(judges, "inception", lambda path: Pool())
    results = smoke_suite.media(method, str(weights), 8, 4, 0.0, "cpu", print)
    fid = results["media:fid/unconditional/m1"]
    assert fid.status == "ok" and fid.value > 0 and fid.n == 8 and fid.details["encoder"] == "inception-v3"
    assert fid.details["comparable"] is False  # 8 images, far below the 10 000 FID needs
