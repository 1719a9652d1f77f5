"""Running compiled queries on an engine: Arrow batches streamed, time and row limits."""

from datalab.query.runner import QueryResult, run_query

__all__ = ["QueryResult", "run_query"]
