"""Running compiled queries on an engine: Arrow batches streamed, time and row limits."""

from datalab.query.runner import QueryCancelledError, QueryResult, run_query

__all__ = ["QueryCancelledError", "QueryResult", "run_query"]
