import subprocess
import sys

from bench.core.config import load_profile
from bench.core.names import PROFILES, methods, suites


def test_the_names_read_from_the_sources_are_the_registries_in_their_order():
    from methods import METHODS
    from tasks import SUITES

    assert list(methods()) == METHODS.names() and list(suites()) == SUITES.names()
    assert all(load_profile(name) for name in PROFILES)


def test_a_misspelt_name_is_refused_before_torch_is_imported():
    probe = ("import sys\nfrom bench.cli import main\ncode = main(['run', '--methods', 'munii'])\n"
             "print(code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "unknown method 'munii'; available: muni, muni_hellinger" in done.stderr
