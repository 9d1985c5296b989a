"""`bench list`: what is registered, read from the registries themselves. Reading them means importing torch
and every method, suite and metric (seconds), so the text is cached under a fingerprint of every project
source file and profile: it is rebuilt whenever any of them changes, and otherwise answers at once."""
from __future__ import annotations

import dataclasses
import os

from base.cache import cache_root
from bench.core.fingerprint import project_fingerprint

IDEAL_TEXT = {"higher": "higher is better", "lower": "lower is better", "match": "closest to real"}


def methods_text() -> str:
    from methods import METHODS

    rows = ["methods (directions: 1→1 one-to-one, n→1 many-to-one, uncond unconditional):"]
    for name in METHODS.names():
        cls = METHODS.get(name)
        caps = cls.capabilities
        marks = " ".join(label if ok else "-" * len(label) for label, ok in
                         (("1→1", caps.one_to_one), ("n→1", caps.many_to_one), ("uncond", caps.unconditional)))
        options = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(cls.Options))
        rows.append(f"  {name:<16} {marks}   {cls.summary}")
        if options:
            rows.append(f"  {'':<16} options: {options}  (--set {name}.<option>=...)")
    return "\n".join(rows)


def suites_text() -> str:
    from tasks import SUITES

    rows = ["suites:"]
    for name in SUITES.names():
        cls = SUITES.get(name)
        rows.append(f"  {name:<26} {cls.summary}")
        if cls.modality_summary:
            rows.append(f"  {'':<26} modalities: {cls.modality_summary}")
        rows.append(f"  {'':<26} tasks: " + ", ".join(f"{m.key} ({m.arrow})"
                                                      for m in cls.table))
        fields = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(cls.DataConfig))
        rows.append(f"  {'':<26} data: {fields}  (--set data.<field>=...)")
    return "\n".join(rows)


def metrics_text() -> str:
    from metrics import METRICS

    rows = ["metrics:"]
    for name in METRICS.names():
        info = METRICS.get(name)
        rows.append(f"  {name:<20} {IDEAL_TEXT[info.ideal]:<16}   {info.summary}")
    return "\n".join(rows)


def profiles_text() -> str:
    from bench.core.config import PROFILES, load_profile

    rows = ["profiles (bench/profiles/*.yaml; any field can be changed with --set):"]
    for name in PROFILES:
        text = " ".join(str(load_profile(name).get("description", "")).split())
        rows.append(f"  {name:<8} {text}")
    return "\n".join(rows)


def listing(what: str = "all") -> str:
    parts = {"methods": methods_text, "suites": suites_text, "metrics": metrics_text, "profiles": profiles_text}
    chosen = parts if what == "all" else {what: parts[what]}
    return "\n\n".join(fn() for fn in chosen.values())


def cached_listing(what: str = "all") -> str:
    path = cache_root() / "listing" / f"{project_fingerprint()}-{what}.txt"
    try:
        return path.read_text()
    except OSError:
        pass
    text = listing(what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(path)
    except OSError:
        pass  # an unwritable cache only costs speed
    return text
