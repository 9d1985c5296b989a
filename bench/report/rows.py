"""The records of a report as rows: one per method and configuration (its records over seeds), labelled by the
--set settings that set it apart; each record marked with the result-determining files that differ between the code
that made it and this checkout."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from base.results import Row
from bench.core.fingerprint import changed_files, code_fingerprint, has_media, same_code
from bench.core.records import Record
from bench.core.tuned import Tuned, as_overrides
from methods import METHODS
from tasks import SUITES


def common_overrides(records: list[Record]) -> list[str]:
    """--set items every record shares: they describe the whole table, not a row."""
    sets = [r.overrides for r in records]
    return [o for o in sets[0] if all(o in s for s in sets[1:])] if sets else []


SHARED = "tuned=off"  # how a row at the profile's shared settings is labelled where its method was tuned


def tuned_view(records: list[Record], tuned: Tuned | None) -> list[Record]:
    """The records as the report reads them when methods were tuned: a record at its method's tuned settings loses
    those --set items (it is the method's row of the table), one at the shared settings gains the label `tuned=off`
    (a variant: what tuning changed), and the tuning trials that were not selected are left out (the tuning
    section shows them). Records of methods without finished tuning are as they were."""
    if tuned is None:
        return records
    out = []
    for record in records:
        settings, trials = tuned.settings(record.method), tuned.trial_hashes(record.method)
        if settings is None:  # not tuned, or its tuning still running: its trials are not rows yet
            if record.config_hash not in trials:
                out.append(record)
            continue
        mine = as_overrides(settings)
        if set(mine) <= set(record.overrides):
            out.append(replace(record, overrides=[o for o in record.overrides if o not in mine]))
        elif record.config_hash not in trials:
            out.append(replace(record, overrides=[SHARED, *record.overrides]))
    return out


def collect_rows(records: list[Record]) -> list[Row]:
    """One row per (method, config); rows are labelled by the overrides that set them apart."""
    shared = set(common_overrides(records))
    rows: dict[tuple[str, str], Row] = {}
    for r in records:
        key = (r.method, r.config_hash)
        own = [o for o in r.overrides if o not in shared]
        if r.status == "interrupted":
            continue  # stopped by the user; listed apart, neither a result nor a failure
        row = rows.setdefault(key, Row(r.method, r.config_hash, own))
        (row.records if r.status == "ok" else row.failed).append(r)
    order = {name: i for i, name in enumerate(METHODS.names())}
    return sorted(rows.values(), key=lambda row: (order.get(row.method, len(order)), bool(row.overrides),
                                                   row.label))


def mark_stale(records: list[Record], suite: str) -> None:
    """Set record.changed to the result-determining files that differ between the code that made the record
    and this checkout (empty when they are the same; see bench/core/fingerprint.py)."""
    current: dict[tuple[str, bool], dict[str, Any] | None] = {}
    suite_module = SUITES.get(suite).__module__
    for r in records:
        method, media = r.method, has_media(r.config)
        if (method, media) not in current:
            current[method, media] = (code_fingerprint(METHODS.get(method).__module__, suite_module, media)
                                      if method in METHODS else None)
        code = current[method, media]
        if code is None:
            r.changed = ["(its method is not in this code)"]
        elif not r.code.get("files"):
            r.changed = ["(made before records kept a code fingerprint)"]
        elif same_code(r.code, r.git, code, METHODS.get(method).__module__, suite_module, media):
            r.changed = []
        else:
            r.changed = changed_files(r.code["files"], code["files"]) or ["(its statements)"]


def default_profile(records: list[Record]) -> str:
    """The profile a report shows unless told: the default `cpu` when it has records, else the one with most."""
    profiles = Counter(r.profile for r in records)
    return "cpu" if "cpu" in profiles else profiles.most_common(1)[0][0]
