"""The errors a user can cause, kept in a module with no heavy imports so the command line can catch them
without loading torch: each is reported in one line with exit status 2."""
from __future__ import annotations


class UsageError(Exception):
    """A mistake in the command line."""


class ConfigError(ValueError):
    """A setting that does not exist, or a value of the wrong type or outside its range; the message says what
    to do."""
