import re

from bench.report.render.tables import written
from tests.bench.report.test_page import row


def test_a_variant_is_shown_as_the_change_it_makes_with_its_interval_and_rank():
    from bench.report.model import variants
    from bench.report.render.sections import sensitivity_lines
    from tasks.base import MetricSpec

    def sensitivity_section(rows, specs):
        return sensitivity_lines(variants(rows, specs), specs)

    spec = MetricSpec("m/acc", "Acc.", "one_to_one", "higher")
    rows = [row("muni", [], 0.50, 0.01, seed=1), row("mopoe", [], 0.70, 0.01, seed=2),
            row("muni", ["train.steps=4000"], 0.90, 0.01, seed=3), row("mopoe", ["train.steps=4000"], 0.705, 0.01, 4)]
    text = written(sensitivity_section(rows, [spec]))
    assert "### `--set train.steps=4000`" in text and "Not run" not in text
    assert re.search(r"\| muni \| \*\*\+0\.4 ± 0\.01\d*\*\* \(rank 2→1\) \|", text), text
    assert re.search(r"\| mopoe \| \+0\.005 ± 0\.0\d+ \(rank 1→1\) \|", text), text  # within its noise: a tie
    alone = written(sensitivity_section(rows[:3], [spec]))
    assert "Not run with this variant: mopoe." in alone
    assert sensitivity_section(rows[:2], [spec]) == []
