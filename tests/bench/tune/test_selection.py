import math

from base.results import MetricSpec
from bench.tune.selection import Trial, select

LOW = MetricSpec("a/err", "err", "one_to_one", "lower")
HIGH = MetricSpec("b/acc", "acc", "one_to_one", "higher")
MATCH = MetricSpec("c/spread", "spread", "one_to_one", "match")


def trial(number: int, status: str = "ok", **values: float) -> Trial:
    keys = {"err": LOW.key, "acc": HIGH.key, "spread": MATCH.key}
    return Trial(number, {"train.lr": 10.0 ** -number}, f"h{number}", status,
                 validation={keys[k]: v for k, v in values.items()}, oracle={MATCH.key: 1.0})


def test_the_best_mean_rank_over_the_headline_metrics_wins_each_by_its_ideal():
    trials = [trial(0, err=0.5, acc=0.9, spread=1.5),  # ranks 3, 1, 3
              trial(1, err=0.2, acc=0.8, spread=1.1),  # ranks 1, 2, 1 -> selected
              trial(2, err=0.3, acc=0.7, spread=0.8)]  # ranks 2, 3, 2
    chosen = select(trials, [LOW, HIGH, MATCH])
    assert chosen.number == 1 and [t.score for t in trials] == [7 / 3, 4 / 3, 7 / 3]


def test_a_failed_trial_ranks_last_everywhere_and_is_never_selected():
    trials = [trial(0, "failed"), trial(1, err=5.0, acc=0.1)]
    assert select(trials, [LOW, HIGH]).number == 1 and trials[0].score == 2.0


def test_ties_go_to_the_better_first_metric_then_the_earlier_trial():
    trials = [trial(0, err=0.3, acc=0.9), trial(1, err=0.2, acc=0.8)]  # both mean rank 1.5
    assert select(trials, [LOW, HIGH]).number == 1
    same = [trial(0, err=0.3, acc=0.9), trial(1, err=0.3, acc=0.9)]
    assert select(same, [LOW, HIGH]).number == 0


def test_nothing_is_selected_while_a_trial_is_pending():
    trials = [trial(0, err=0.1), trial(1, "pending")]
    assert select(trials, [LOW]) is None and all(t.score is None for t in trials)
    assert not math.isnan(select([trial(0, err=0.1)], [LOW]).score)
