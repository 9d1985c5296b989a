"""Running the task matrix: the plan that validates a request, the runner and its executors (local processes, Ray),
and one cell's life: training, budgets, checkpoints, evaluation, tracking."""
