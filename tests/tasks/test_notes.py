"""Every suite's report notes come from its notes.md: one entry per bullet, continuation lines joined."""
from pathlib import Path

import tasks
from tasks import SUITES
from tasks.base import Suite


def test_every_suite_has_notes_one_per_bullet():
    for name in SUITES.names():
        notes = SUITES.get(name).notes()
        text = Path(tasks.__file__).parent / name / "notes.md"
        bullets = [line for line in text.read_text().splitlines() if line.startswith("- ")]
        assert len(notes) == len(bullets) > 0
        assert all("\n" not in n and "  " not in n for n in notes)


def test_a_suite_without_notes_md_has_none():
    class Nameless(Suite):
        name = "no_such_suite"

    assert Nameless.notes() == []
