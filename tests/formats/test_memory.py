"""Reading a large CSV keeps memory bounded: the reader holds a block, not the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

ROWS = 2_400_000
COLUMNS = 10

# Runs in a fresh interpreter so that the peaks belong to the read alone. pyarrow's
# allocations are invisible to tracemalloc, so its pool is watched as well as the RSS.
MEASURE = """
import json, resource, sys, tracemalloc
import pyarrow as pa
from datalab.formats import open_table

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

pool = pa.default_memory_pool()
before = rss_mb()
tracemalloc.start()
rows = total = peak_arrow = 0
with open_table(sys.argv[1]) as reader:
    for batch in reader.batches(100_000):
        rows += batch.num_rows
        total += sum(batch.column(i).to_numpy().sum() for i in range(batch.num_columns))
        peak_arrow = max(peak_arrow, pa.total_allocated_bytes())
print(json.dumps({
    "rows": rows,
    "total": float(total),
    "python_peak_mb": tracemalloc.get_traced_memory()[1] / 2**20,
    "arrow_peak_mb": max(peak_arrow, pool.max_memory() or 0) / 2**20,
    "rss_growth_mb": rss_mb() - before,
}))
"""


@pytest.mark.slow
def test_large_csv_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    rng = np.random.default_rng(7)
    expected_total = 0.0
    schema = pa.schema([(f"c{i}", pa.float64()) for i in range(COLUMNS)])
    with pacsv.CSVWriter(path, schema) as writer:
        for _ in range(ROWS // 200_000):
            values = rng.uniform(-1e6, 1e6, (COLUMNS, 200_000)).round(3)
            expected_total += float(values.sum())
            writer.write_batch(pa.record_batch(list(values), schema=schema))
    size_mb = path.stat().st_size / 2**20
    assert size_mb > 200
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(result.stdout)
    assert measured["rows"] == ROWS
    assert measured["total"] == pytest.approx(expected_total, rel=1e-9)
    # The whole table would be ~180 MB of Arrow data (and the text 200+ MB more).
    assert measured["arrow_peak_mb"] < 100, measured
    assert measured["python_peak_mb"] < 50, measured
    assert measured["rss_growth_mb"] < 200, measured
