"""Encoding a large result keeps memory bounded: a few batches, never the whole output.

Two million rows (an id, ra, dec, two floats and a short string) are generated batch
by batch and streamed through an encoder; the output is counted, not kept. Python's
own allocations (tracemalloc, which numpy reports to) and Arrow's pool are watched.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from datalab.formats import FieldMeta
from datalab.formats.results import ResultInfo, encode_result, resolve_format

ROWS = 2_000_000
BATCH = 65_536
BOUND_MB = 32

SCHEMA = pa.schema(
    [
        ("source_id", pa.int64()),
        ("ra", pa.float64()),
        ("dec", pa.float64()),
        ("g", pa.float32()),
        ("bp_rp", pa.float64()),
        ("name", pa.string()),
    ]
)
FIELDS = [
    FieldMeta("source_id", ucd="meta.id"),
    FieldMeta("ra", unit="deg", ucd="pos.eq.ra"),
    FieldMeta("dec", unit="deg", ucd="pos.eq.dec"),
    FieldMeta("g", unit="mag"),
    FieldMeta("bp_rp", unit="mag"),
    FieldMeta("name"),
]


def generate(peak: list[int]) -> Iterator[pa.RecordBatch]:
    """The rows, made one batch at a time; ``peak`` tracks Arrow's allocations."""
    rng = np.random.default_rng(11)
    for start in range(0, ROWS, BATCH):
        n = min(BATCH, ROWS - start)
        ids = np.arange(start, start + n, dtype=np.int64)
        names = pc.binary_join_element_wise("star-", pa.array(ids).cast(pa.string()), "")
        yield pa.record_batch(
            [
                pa.array(ids),
                pa.array(rng.uniform(0, 360, n)),
                pa.array(rng.uniform(-90, 90, n)),
                pa.array(rng.uniform(5, 21, n).astype(np.float32)),
                pa.array(rng.normal(0.8, 0.3, n)),
                names,
            ],
            schema=SCHEMA,
        )
        peak[0] = max(peak[0], pa.total_allocated_bytes())


@pytest.mark.parametrize("fmt", ["csv", "votable/b2", "parquet"])
def test_large_result_streams_in_bounded_memory(fmt: str) -> None:
    arrow_peak = [0]
    tracemalloc.start()
    try:
        total = chunks = 0
        for chunk in encode_result(
            resolve_format(fmt), SCHEMA, FIELDS, generate(arrow_peak), ResultInfo()
        ):
            total += len(chunk)
            chunks += 1
            arrow_peak[0] = max(arrow_peak[0], pa.total_allocated_bytes())
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    mb = 2**20
    # The output (77 MB of Parquet, 170 MB of text) is well above the bound.
    assert total > 2 * BOUND_MB * mb, total
    assert chunks > 40
    assert python_peak < BOUND_MB * mb, python_peak / mb
    assert arrow_peak[0] < BOUND_MB * mb, arrow_peak[0] / mb
