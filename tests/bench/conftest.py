import pytest

from bench.runner import RunRequest, run


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """A small finished run: muni with two seeds and shala with one, at smoke size."""
    out = tmp_path_factory.mktemp("results")
    common = dict(suite="gaussian_mixture", profile="smoke", out=out, show_progress=False,
                  overrides=["train.steps=20"], command="pytest smoke run")
    outcomes = run(RunRequest(methods=["muni"], seeds=[0, 1], **common)).outcomes
    outcomes += run(RunRequest(methods=["shala"], seeds=[0], **common)).outcomes
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    return out
