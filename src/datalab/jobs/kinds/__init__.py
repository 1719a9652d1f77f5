"""The kinds of job the runner knows: plain functions of a JobContext, one per module."""
