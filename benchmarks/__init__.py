"""Benchmarks of Data Lab, alone and against the software users would otherwise run.

``scripts/bench`` runs the whole suite (``benchmarks.run``) with PostgreSQL + Q3C,
pgSphere, astropy and optionally DaCHS in the same run; the single-purpose scripts
(``cone.py``, ``xmatch.py``, ``tap.py``, ``ingest.py``, ``images.py``) still run on their
own. See ``docs/performance.md``.
"""
