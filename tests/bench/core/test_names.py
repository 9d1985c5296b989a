import subprocess
import sys

from bench.core.config import COMMON_SECTIONS, load_profile
from bench.core.names import PROFILES, SECTIONS, methods, section_keys, suites


def test_the_names_read_from_the_sources_are_the_registries_in_their_order():
    from methods import METHODS
    from tasks import SUITES

    assert list(methods()) == METHODS.names() and list(suites()) == SUITES.names()
    assert all(load_profile(name) for name in PROFILES) and SECTIONS == tuple(COMMON_SECTIONS)


def test_the_keys_read_from_the_sources_are_the_config_dataclasses_fields():
    from bench.core.config import field_types
    from methods import METHODS
    from tasks import SUITES

    read = 0
    for section, cls in COMMON_SECTIONS.items():
        assert section_keys(section, None) == tuple(field_types(cls))
    for name in METHODS.names():
        keys = section_keys(name, None)  # None: the options class is inherited or imported, checked after import
        read += keys is not None
        assert keys is None or keys == tuple(field_types(METHODS.get(name).Options)), name
    for name in SUITES.names():
        assert section_keys("data", name) == tuple(field_types(SUITES.get(name).DataConfig)), name
    assert read >= 4  # muni, mvae, shala, flowbind at least


def test_a_misspelt_name_is_refused_before_torch_is_imported():
    for argv, message in ((["run", "--methods", "munii"], "unknown method 'munii'; available: muni, muni_hellinger"),
                          (["tune", "--suite", "gm"], "unknown suite 'gm'; available: gaussian_mixture"),
                          (["run", "--set", "trian.steps=3"], "unknown section 'trian'; available: data, model"),
                          (["perf", "--profile", "fast"], "unknown profile 'fast'; available: smoke, cpu"),
                          (["run", "--set", "train.stpes=3"], "train.stpes is not a setting; did you mean train.steps"),
                          (["run", "--methods", "muni", "--set", "muni.route=exact"],
                           "muni.route is not a setting; did you mean muni.route_mode?"),
                          (["run", "--set", "data.d_al=4"], "data.d_al is not a setting; did you mean data.d_all?")):
        probe = f"import sys\nfrom bench.cli import main\ncode = main({argv!r})\nprint(code, 'torch' in sys.modules)"
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        assert done.stdout.split() == ["2", "False"] and message in done.stderr, (argv, done.stderr)
