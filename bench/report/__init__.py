"""Reports from records: one suite's page, its sections and tables, the index across suites and the README's
generated blocks."""
