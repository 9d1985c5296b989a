"""Where generated data, trained verifiers and other derived files are cached."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$MUNI_BENCH_CACHE, else ~/.cache/muni-bench."""
    return Path(os.environ.get("MUNI_BENCH_CACHE", Path.home() / ".cache" / "muni-bench"))
