"""Equal-effort tuning (`bench tune`): the search space and its seeded draws, the trials as cells of the runner, the
selection on validation tuples, and the Optuna studies; the tuned-settings file itself is bench/core/tuned.py."""
