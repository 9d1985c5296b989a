import shutil

import pytest

from bench.core import fingerprint
from bench.core.fingerprint import code_fingerprint, source_files

MUNI, GM = "methods.muni", "tasks.gaussian_mixture.suite"


def names(paths) -> set[str]:
    return {p.relative_to(fingerprint.ROOT).as_posix() for p in paths}


def test_the_fingerprint_covers_what_makes_numbers_and_not_what_draws_them():
    files = names(source_files([MUNI, GM, *fingerprint.cell_modules(fingerprint.Tree())]))
    assert {"methods/muni.py", "methods/backbone/nets.py", "methods/base.py", "tasks/gaussian_mixture/data.py",
            "metrics/sliced_wasserstein.py", "bench/run/train.py", "bench/run/cell.py"} <= files
    # report, figure and scheduling code (imported inside functions, or not by cells at all) does not count
    assert not files & {"bench/figures/plots.py", "bench/report/page.py", "bench/run/runner.py", "bench/run/job.py",
                        "bench/core/config.py", "tasks/gaussian_mixture/findings.py", "methods/mvae.py"}


@pytest.fixture
def code_copy(tmp_path, monkeypatch):
    """The project's packages copied to a folder the fingerprint reads instead, so a test can edit the code."""
    for package in fingerprint.PACKAGES:
        shutil.copytree(fingerprint.ROOT / package, tmp_path / package)
    monkeypatch.setattr(fingerprint, "ROOT", tmp_path)
    return tmp_path


def edit(path) -> None:
    with open(path, "a") as f:
        f.write("\nEDITED = 1\n")


@pytest.mark.parametrize("edited, changes_muni", [
    ("methods/muni.py", True), ("methods/backbone/nets.py", True), ("tasks/gaussian_mixture/data.py", True),
    ("bench/run/train.py", True), ("methods/mvae.py", False), ("bench/figures/plots.py", False),
    ("tasks/gaussian_mixture/findings.py", False),
])
def test_an_edit_changes_the_fingerprint_of_the_cells_it_can_change(code_copy, edited, changes_muni):
    before = code_fingerprint(MUNI, GM)
    edit(code_copy / edited)
    after = code_fingerprint(MUNI, GM)
    assert (after["fingerprint"] != before["fingerprint"]) == changes_muni
    assert fingerprint.changed_files(before["files"], after["files"]) == ([edited] if changes_muni else [])


def test_a_report_marks_records_made_by_other_code(smoke_results, code_copy, tmp_path):
    from bench.report.page import write_report

    edit(code_copy / "methods" / "muni.py")
    write_report("gaussian_mixture", smoke_results, tmp_path / "reports")
    text = (tmp_path / "reports" / "smoke" / "gaussian_mixture.md").read_text()
    main_table = text.split("\n## ")[0]
    rows = {line.split("|")[1].strip() for line in main_table.splitlines() if line.startswith(("| muni", "| shala"))}
    # muni's records were made by other code: out of the table by default, its paper row says why
    assert rows == {"shala", "muni (paper only; our records by other code left out)"}
    assert "**left out** 2 records made by other code" in text.splitlines()[2]
    assert "## Records made by other code" in text
    assert "2 records (muni); differs in methods/muni.py" in text
    write_report("gaussian_mixture", smoke_results, tmp_path / "all", include_stale=True)
    text = (tmp_path / "all" / "smoke" / "gaussian_mixture.md").read_text()
    rows = {line.split("|")[1].strip() for line in text.split("\n## ")[0].splitlines()
            if line.startswith(("| muni", "| shala"))}
    assert rows == {"muni ‡", "shala"}


def test_comments_docstrings_and_moves_keep_the_fingerprint_and_code_changes_do_not(code_copy):
    before = code_fingerprint(MUNI, GM)
    nets = code_copy / "methods" / "backbone" / "nets.py"
    nets.write_text('"""Another docstring."""\n# a comment\n' + nets.read_text().split('"""', 2)[2])
    assert code_fingerprint(MUNI, GM)["fingerprint"] == before["fingerprint"]
    # a definition moved to another module of the cell's code, its import following it: the same statements
    train = code_copy / "bench" / "run" / "train.py"
    train.write_text(train.read_text() + "\n\ndef moved_helper(x):\n    return x + 1\n")
    moved = code_fingerprint(MUNI, GM)["fingerprint"]
    train.write_text(train.read_text().replace("\n\ndef moved_helper(x):\n    return x + 1\n", ""))
    cell = code_copy / "bench" / "run" / "cell.py"
    cell.write_text(cell.read_text() + "\n\ndef moved_helper(x):\n    return x + 1\n")
    assert code_fingerprint(MUNI, GM)["fingerprint"] == moved != before["fingerprint"]
    cell.write_text(cell.read_text().replace("return x + 1", "return x + 2"))
    assert code_fingerprint(MUNI, GM)["fingerprint"] != moved


def test_type_only_code_keeps_the_fingerprint_and_a_protocol_that_runs_does_not(code_copy):
    before = code_fingerprint(MUNI, GM)["fingerprint"]
    evaluation = code_copy / "tasks" / "evaluation.py"
    source = evaluation.read_text()
    assert "def evaluate(suite: EvaluatedSuite, method: Method" in source
    typed = source.replace("def evaluate(suite: EvaluatedSuite, method: Method",
                           "def evaluate(suite: object, method: object")
    typed = typed.replace("if TYPE_CHECKING:\n", "if TYPE_CHECKING:\n    from typing import Sequence\n", 1)
    typed += ("\n\nclass Declared(Protocol):\n    \"\"\"Only for type checkers.\"\"\"\n\n    size: int\n\n"
              "    def grow(self, by: int) -> int: ...\n")
    evaluation.write_text(typed)
    assert code_fingerprint(MUNI, GM)["fingerprint"] == before
    evaluation.write_text(typed.replace("def grow(self, by: int) -> int: ...", "def grow(self, by: int) -> int:\n"
                                        "        return self.size + by"))
    assert code_fingerprint(MUNI, GM)["fingerprint"] != before  # a method body runs
    evaluation.write_text(typed.replace("    size: int\n", "    size: int = 3\n"))
    assert code_fingerprint(MUNI, GM)["fingerprint"] != before  # a value is code
    runs = "if not TYPE_CHECKING:\n    print()\nif TYPE_CHECKING:\n"
    evaluation.write_text(source.replace("if TYPE_CHECKING:\n", runs, 1))
    assert code_fingerprint(MUNI, GM)["fingerprint"] != before  # a block that runs


def test_a_record_of_an_older_scheme_is_read_through_its_commit(monkeypatch):
    """Scheme 1 kept a byte hash per path and scheme 2 kept type-only code; the commit's files, checked against
    the record's hashes, give the current scheme."""
    now = code_fingerprint(MUNI, GM)
    head = fingerprint.git("rev-parse", "HEAD").strip()
    committed = fingerprint.Tree(head)
    names = sorted(now["files"])
    if any(not committed.exists(n) or fingerprint.hashlib.sha256(committed.read(n)).hexdigest()[:12]
           != now["files"][n] for n in names):
        pytest.skip("the checkout's cell code differs from its commit")
    old = {"fingerprint": "0123456789ab", "files": now["files"]}  # scheme 1: no "scheme" field
    assert fingerprint.recorded_fingerprint(old, {"commit": head}, MUNI, GM) == now["fingerprint"]
    assert fingerprint.recorded_fingerprint(old | {"scheme": 2}, {"commit": head}, MUNI, GM) == now["fingerprint"]
    assert fingerprint.same_code(old | {"files": {**now["files"], names[0]: "000000000000"}}, {"commit": head}, now,
                                 MUNI, GM) is False  # files that are not the commit's: unknown code, stale
    assert fingerprint.recorded_fingerprint(old, {}, MUNI, GM) is None


ITA = "tasks.image_text_audio.suite"


def test_the_media_stage_counts_for_the_cells_that_run_it_and_for_no_other(code_copy):
    plain, media = code_fingerprint(MUNI, ITA), code_fingerprint(MUNI, ITA, media=True)
    assert "bench/run/media_stage.py" in media["files"] and "bench/run/media_stage.py" not in plain["files"]
    edit(code_copy / "bench/run/media_stage.py")
    assert code_fingerprint(MUNI, ITA)["fingerprint"] == plain["fingerprint"]
    assert code_fingerprint(MUNI, ITA, media=True)["fingerprint"] != media["fingerprint"]


# what the job that writes a record may import beside the cell's own code: none of it makes a number of the record
# (the config's values are in the record's config hash; convergence is read from the record by the report)
RECORDING = {"bench.core.config", "bench.core.records", "bench.core.fingerprint", "bench.run.checkpoint",
             "bench.run.tracking", "bench.run.media_stage", "methods", "tasks"}


def test_the_job_that_writes_a_record_imports_no_code_that_makes_numbers_outside_the_fingerprint():
    job = fingerprint.module_path("bench.run.job")
    cell = set(fingerprint.cell_sources(MUNI, GM, fingerprint.Tree()))
    outside = {m for m in fingerprint.top_level_imports("bench.run.job", job)
               if fingerprint.module_file(m, fingerprint.Tree()) not in cell}
    assert outside and outside <= RECORDING
