import pytest

from bench.core.errors import UsageError
from bench.run.plan import RunRequest, plan


def test_a_plan_resolves_every_cell_once_and_notes_what_it_changed(tmp_path):
    request = RunRequest(suite="image_text_audio", methods="all", seeds=[1, 0, 1], profile="smoke", out=tmp_path)
    planned = plan(request)
    assert "mvae" not in planned.methods and planned.seeds == [1, 0]
    assert len(planned.cells) == 2 * len(planned.methods)
    assert any(n.startswith("leaving out mvae: it trains on complete tuples only") for n in planned.notes)
    assert "--seeds names 1 more than once; each runs once" in planned.notes
    assert list(tmp_path.iterdir()) == []  # planning writes nothing


@pytest.mark.parametrize("change, message", [
    (dict(methods=["mvae"]), "mvae cannot train on image_text_audio"),
    (dict(seeds=[True]), "is out of range"),
    (dict(executor="slurm"), "unknown executor 'slurm'; available: local, ray"),
    (dict(device="tpu"), "unknown device 'tpu'; available: auto, cpu, cuda"),
    (dict(workers=-1), "--workers must be 0 (auto) or a positive number"),
    (dict(ray_address="HEAD:6379"), "--ray-address is an option of --executor ray"),
])
def test_the_api_gets_the_rules_the_command_line_gets(change, message, tmp_path):
    base = dict(suite="image_text_audio", methods=["muni"], seeds=[0], profile="smoke", out=tmp_path)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan(RunRequest(**{**base, **change}))
