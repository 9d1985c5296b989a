from types import SimpleNamespace

from bench.run.executor import Progress
from bench.run.job import CellOutcome


def cell(key: str):
    return SimpleNamespace(key=key, label="", cfg=SimpleNamespace(train=SimpleNamespace(steps=10)))


def test_the_progress_line_counts_finished_interrupted_and_failed_cells_apart(tmp_path):
    progress = Progress(enabled=False)
    cells = [cell(k) for k in ("a s0", "b s0", "c s0", "d s0")]
    progress.start(cells, "gaussian_mixture [smoke]")
    for key, status in (("a s0", "ok"), ("b s0", "interrupted"), ("c s0", "failed")):
        progress.finish(key, CellOutcome(key[0], 0, status, tmp_path / f"{key}.json", "why"))
    assert progress.label() == "gaussian_mixture [smoke] 1/4 cells done, 0 running, 1 interrupted, 1 failed"
