import pytest

from bench.core.config import ConfigError, resolve, validate_overrides


def test_resolution_order_defaults_suite_profile_then_command_line():
    cfg = resolve("gaussian_mixture", "muni", 3, "smoke", ["train.steps=7", "muni.route_mode=exact",
                                                           "mopoe.prior_on=assigned", "data.d_priv=8"])
    assert cfg.model.latent_dim == 48  # suite default
    assert cfg.model.encoder_width == 64  # smoke profile
    assert cfg.train.steps == 7 and cfg.options.route_mode == "exact" and cfg.data.d_priv == 8
    assert cfg.overrides == ["train.steps=7", "muni.route_mode=exact", "data.d_priv=8"]  # mopoe's is not this cell's
    assert cfg.seed == 3


def test_config_hash_ignores_seed_and_labels_but_not_settings():
    a = resolve("gaussian_mixture", "muni", 0, "smoke")
    b = resolve("gaussian_mixture", "muni", 1, "smoke")
    c = resolve("gaussian_mixture", "muni", 0, "smoke", ["flow.encoder_grad_scale=0.5"])
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_precision_is_a_recorded_setting_hashed_only_when_it_is_not_the_default_fp32():
    fp32 = resolve("gaussian_mixture", "muni", 0, "smoke", ["train.precision=fp32"])
    bf16 = resolve("gaussian_mixture", "muni", 0, "smoke", ["train.precision=bf16"])
    assert resolve("gaussian_mixture", "muni", 0, "smoke").config_hash() == fp32.config_hash()  # old records keep
    assert bf16.config_hash() != fp32.config_hash() and bf16.to_dict()["train"]["precision"] == "bf16"
    with pytest.raises(ConfigError, match="unknown precision 'fp16'; available: fp32, bf16"):
        resolve("gaussian_mixture", "muni", 0, "smoke", ["train.precision=fp16"])


@pytest.mark.parametrize("override, message", [
    ("train.stepz=3", "train.stepz is not a setting; did you mean train.steps\\? valid keys in train: steps"),
    ("train.steps=abc", "train.steps expects an integer, got 'abc'"),
    ("flow.encoder_grad_scale=lots", "flow.encoder_grad_scale expects a number, got 'lots'"),
    ("muni.detach_self=maybe", "muni.detach_self expects true or false, got 'maybe'"),
    ("trian.steps=3", "unknown section 'trian'; available: data, model, flow, train, eval, media, muni"),
    ("train.steps", "--set expects section.field=value"),
    ("muni.route_mode=sometimes", "route_mode must be one of mc, exact"),
])
def test_bad_overrides_say_what_is_wrong(override, message):
    with pytest.raises(ConfigError, match=message):
        validate_overrides([override], "gaussian_mixture", ["muni"])
        resolve("gaussian_mixture", "muni", 0, "smoke", [override])


def test_options_of_a_method_outside_the_run_are_refused():
    with pytest.raises(ConfigError, match="method 'mopoe' is not in this run"):
        validate_overrides(["mopoe.prior_on=assigned"], "gaussian_mixture", ["muni"])


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(ConfigError, match="unknown profile 'fast'; available: smoke, cpu, cpu_wide, cpu_long, paper"):
        resolve("gaussian_mixture", "muni", 0, "fast")


def test_every_profile_file_is_reachable_and_resolves_for_each_suite_it_sets():
    from pathlib import Path

    from bench.core.config import PROFILES, load_profile
    files = {p.stem for p in (Path(__file__).parents[3] / "bench" / "profiles").glob("*.yaml")}
    assert files == set(PROFILES)
    for profile in PROFILES:
        for suite in load_profile(profile)["suites"]:
            assert resolve(suite, "muni", 0, profile).profile == profile
