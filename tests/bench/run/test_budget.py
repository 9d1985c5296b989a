import dataclasses

import pytest
import torch

from bench.core.config import resolve
from bench.core.records import read_record
from bench.run.budget import budget_steps, probe
from bench.run.runner import RunRequest, run
from methods import METHODS
from tasks import SUITES


def built(method: str):
    cfg = resolve("gaussian_mixture", method, 0, "smoke")
    suite = SUITES.get("gaussian_mixture")(cfg.data)
    torch.manual_seed(0)
    return cfg, suite, METHODS.get(method)(suite.specs, cfg.model, cfg.flow, cfg.options)


def test_the_probe_leaves_the_method_and_the_random_stream_as_they_were():
    cfg, suite, method = built("mopoe")
    weights = {k: v.clone() for k, v in method.state_dict().items()}
    state = torch.get_rng_state()
    measured = probe(method, suite, cfg.train, torch.device("cpu"))
    assert measured["flops_per_step"] > 0 and measured["seconds_per_step"] > 0
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(v, method.state_dict()[k]) for k, v in weights.items())


def test_each_budget_buys_its_amount_divided_by_the_cost_of_a_step():
    train = resolve("gaussian_mixture", "muni", 0, "smoke").train
    measured = {"flops_per_step": 2e9, "seconds_per_step": 0.05}
    assert budget_steps(train, measured) == train.steps
    assert budget_steps(dataclasses.replace(train, budget="samples", budget_amount=1280), measured) == 10
    assert budget_steps(dataclasses.replace(train, budget="flops", budget_amount=1e11), measured) == 50
    assert budget_steps(dataclasses.replace(train, budget="seconds", budget_amount=3), measured) == 60


def test_an_equal_flop_budget_gives_cheaper_methods_more_steps_and_records_what_each_consumed(tmp_path):
    budget = ["train.budget=flops", "train.budget_amount=2.5e9"]
    result = run(RunRequest(suite="gaussian_mixture", methods=["muni", "mvae"], seeds=[0], profile="smoke",
                            out=tmp_path, show_progress=False, overrides=budget))
    muni, mvae = (read_record(o.record) for o in result.outcomes)
    for record in (muni, mvae):
        spent = record["budget"]
        assert spent["kind"] == "flops" and record["train"]["steps"] == spent["steps"]
        assert spent["flops"] == pytest.approx(2.5e9, rel=0.1)  # whole steps: within one step of the amount
        assert spent["samples"] == spent["steps"] * record["config"]["train"]["batch_size"]
    assert muni["train"]["steps"] > 2 * mvae["train"]["steps"]  # MUNI's step is the cheaper one
    decoders = {k: v for k, v in mvae["budget"]["examples_seen"].items() if "decoders" in k}
    assert set(decoders) == {"backbone.decoders.x1", "backbone.decoders.x2", "backbone.decoders.x3"}
    assert muni["train"]["checks"][-1]["step"] == muni["train"]["steps"]  # quick evaluations up to the end
    assert [c["fraction"] for c in muni["train"]["checks"]] == [i / 8 for i in range(1, 9)]
    assert all(c["se"] for c in muni["train"]["checks"])  # held-out values with their standard errors
