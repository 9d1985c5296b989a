"""What every room shares: the resolved config and its errors, records on disk, code fingerprints and the
convergence test."""
