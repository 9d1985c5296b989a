"""`bench perf`: throughput against the machine's measured matmul peak, and its page."""
