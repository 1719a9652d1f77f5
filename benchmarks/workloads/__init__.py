"""The suite's workloads; each module's ``run(bench)`` returns a ``measure.Workload``."""
