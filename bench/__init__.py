"""muni-bench: the command line, runner, tracking and reports of the benchmark."""
