"""Records for report tests: the fields a test sets, the rest filled with a minimal cell's."""
from typing import Any

from bench.core.records import Record

MINIMAL = {"suite": "gaussian_mixture", "method": "muni", "seed": 0, "profile": "cpu", "config_hash": "0" * 12,
           "status": "ok", "config": {}, "git": {}, "device": {}, "wall_time": {}}


def as_record(fields: dict[str, Any]) -> Record:
    return Record.from_json(MINIMAL | fields)
