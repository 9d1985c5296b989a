import subprocess
import sys

from bench.core.config import COMMON_SECTIONS, load_profile
from bench.core.names import PROFILES, SECTIONS, methods, suites


def test_the_names_read_from_the_sources_are_the_registries_in_their_order():
    from methods import METHODS
    from tasks import SUITES

    assert list(methods()) == METHODS.names() and list(suites()) == SUITES.names()
    assert all(load_profile(name) for name in PROFILES) and SECTIONS == tuple(COMMON_SECTIONS)


def test_a_misspelt_name_is_refused_before_torch_is_imported():
    for argv, message in ((["run", "--methods", "munii"], "unknown method 'munii'; available: muni, muni_hellinger"),
                          (["tune", "--suite", "gm"], "unknown suite 'gm'; available: gaussian_mixture"),
                          (["run", "--set", "trian.steps=3"], "unknown section 'trian'; available: data, model"),
                          (["perf", "--profile", "fast"], "unknown profile 'fast'; available: smoke, cpu")):
        probe = f"import sys\nfrom bench.cli import main\ncode = main({argv!r})\nprint(code, 'torch' in sys.modules)"
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        assert done.stdout.split() == ["2", "False"] and message in done.stderr, (argv, done.stderr)
