"""Reports of a run: per-scenario results, matching log lines, the living documentation."""
