from base.results import MetricSpec, Row
from bench.report.agreement import agreement, column_agreement
from bench.report.render.markdown import agreement_section
from bench.report.render.tables import written
from tests.bench.records import as_record

OURS = MetricSpec("many_to_one/judge_win/text vs image", "2→1 T vs I", "many_to_one", "higher")
PAPERS = MetricSpec("media:clip_score/many_to_one/text vs image", "2→1 T vs I", "many_to_one", "higher")


def row(method: str, value: float) -> Row:
    return Row(method, "h", [], [as_record({"seed": 0, "metrics": {OURS.key: {"value": value, "ideal": "higher"}}})])


def test_the_rankings_are_compared_where_the_paper_used_another_metric():
    rows = [row("a", 90.0), row("b", 80.0), row("c", 70.0), row("d", 60.0)]
    same = {"a": {OURS.key: 30.0}, "b": {OURS.key: 29.0}, "c": {OURS.key: 28.0}, "d": {OURS.key: 20.0}}
    both, tau, ours, theirs = column_agreement(rows, OURS, PAPERS, same)
    assert both == ["a", "b", "c", "d"] and tau == 1.0 and ours == theirs == "a"
    reversed_ = {m: {OURS.key: -v[OURS.key]} for m, v in same.items()}
    assert column_agreement(rows, OURS, PAPERS, reversed_)[1] == -1.0
    few = {"a": {OURS.key: 1.0}, "b": {OURS.key: 2.0}, "zz": {OURS.key: 3.0}}  # only two methods in both
    assert column_agreement(rows, OURS, PAPERS, few)[1] is None
    found = agreement(rows, [(PAPERS, OURS)], same)
    (column,) = found.columns
    assert (column.paper_metric, column.methods, column.tau, column.ours, column.theirs) == ("clip_score", 4, 1.0,
                                                                                          "a", "a")
    assert found.median == 1.0 and agreement(rows, [(PAPERS, OURS)], {}) is None
    text = written(agreement_section(found))
    assert "## The paper's ranking beside ours" in text and "| 2→1 T vs I | clip_score | 4 | +1.00 | a | a |" in text
