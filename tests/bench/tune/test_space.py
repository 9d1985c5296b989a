import pytest

from bench.core.errors import UsageError
from bench.core.tuned import as_overrides
from bench.tune.space import DEFAULT_TRIALS, load_space, parse_space


def test_the_default_draws_are_seeded_iid_rounded_and_do_not_depend_on_how_many_follow():
    space = load_space(None)
    drawn = space.draw(DEFAULT_TRIALS, seed=0)
    assert drawn == space.draw(DEFAULT_TRIALS, seed=0)  # the same settings every time: a run resumes them
    assert space.draw(3, seed=0) == drawn[:3]
    assert drawn != space.draw(DEFAULT_TRIALS, seed=1)
    for settings in drawn:
        lr = settings["train.lr"]
        assert 1e-4 <= lr <= 3e-3 and float(f"{lr:.3g}") == lr


def test_a_space_draws_choices_integers_and_linear_ranges_alike_for_every_method():
    space = parse_space({"train.batch_size": {"choices": [128, 256]}, "train.warmup_steps": {"low": 10, "high": 20,
                         "integer": True}, "train.grad_clip": {"low": 0.5, "high": 2.0}}, "test")
    for settings in space.draw(8, seed=3):
        assert settings["train.batch_size"] in (128, 256) and 10 <= settings["train.warmup_steps"] <= 20
        assert isinstance(settings["train.warmup_steps"], int) and 0.5 <= settings["train.grad_clip"] <= 2.0


@pytest.mark.parametrize("spec, message", [
    ({"data.n_train": {"low": 1, "high": 2}}, "data.n_train cannot be tuned"),
    ({"muni.target_weight": {"choices": ["sum", "mean"]}}, "muni.target_weight cannot be tuned"),
    ({"train.lr": {"low": 0.0, "high": 1e-3, "log": True}}, "needs finite low < high and low > 0 (log)"),
    ({"train.lr": {"low": 1e-3}}, "needs numbers low and high"),
    ({"train.lr": {"choices": []}}, "choices must be a non-empty list"),
    ({"train.lr": 0.001}, "train.lr needs {low, high, log}"),
    ({}, "a search space maps settings"),
])
def test_a_space_that_cannot_be_tuned_alike_is_refused_in_one_line(spec, message):
    with pytest.raises(UsageError) as caught:
        parse_space(spec, "--space s.yaml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_settings_become_the_set_items_a_user_would_type():
    assert as_overrides({"train.lr": 0.000647, "train.batch_size": 128}) == ["train.lr=0.000647",
                                                                            "train.batch_size=128"]
