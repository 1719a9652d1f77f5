"""Ingest speed: rows per second and peak memory loading a synthetic survey.

Writes the same mock catalog (``datalab mock``) as Parquet, CSV and FITS, then loads each
with ``datalab ingest`` in its own process into a fresh data directory, timing the whole
command (read, HEALPix index, sort, metadata) and sampling the process's resident
memory. Prints a table and writes ``benchmarks/results/ingest.json``.

    .venv/bin/python benchmarks/ingest.py                  # 10 million rows
    .venv/bin/python benchmarks/ingest.py --rows 1000000   # quicker
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.dataset import DATALAB, ensure_mock_file, file_rows

RESULTS = Path(__file__).parent / "results"


def run_measured(cmd: list[str]) -> tuple[float, int, str]:
    """Run ``cmd``; return (seconds, peak RSS in bytes, combined output)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(True))
            peak = max(peak, rss)
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    took = time.perf_counter() - started
    output = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output}")
    return took, peak, output


def measure_ingest(source: Path, home: Path, rows: int, fmt: str) -> dict[str, Any]:
    """Load ``source`` with ``datalab ingest`` into a fresh ``home``; time and memory.

    The data directory is removed afterwards: only the figures are kept.
    """
    shutil.rmtree(home, ignore_errors=True)
    try:
        took, peak, _ = run_measured(
            [*DATALAB, "ingest", str(source), "--table", "bench.tractor", "--data-dir", str(home)]
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    size = source.stat().st_size
    return {
        "format": fmt,
        "rows": rows,
        "file_mb": round(size / 1e6, 1),
        "seconds": round(took, 2),
        "rows_per_second": round(rows / took),
        "mb_per_second": round(size / 1e6 / took, 1),
        "peak_rss_mb": round(peak / 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--formats", default="parquet,csv,fits")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep files here.")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="datalab-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        formats = args.formats.split(",")
        sources = {fmt: ensure_mock_file(work, args.rows, fmt) for fmt in formats}
        # Every file holds the same rows: the requested ones plus the generator's
        # injected objects, counted from a file that states its length.
        counted = [file_rows(p) for f, p in sources.items() if f in ("parquet", "fits")]
        rows = counted[0] if counted else args.rows
        for fmt in formats:
            results.append(measure_ingest(sources[fmt], work / f"home-{fmt}", rows, fmt))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"Ingest of {rows:,} synthetic rows into a sorted, HEALPix-indexed table")
    header = ("format", "file MB", "seconds", "rows/s", "MB/s", "peak RSS MB")
    widths = (-8, 9, 9, 12, 8, 12)
    print(
        " ".join(
            f"{h:<{-w}}" if w < 0 else f"{h:>{w}}" for h, w in zip(header, widths, strict=True)
        )
    )
    for r in results:
        print(
            f"{r['format']:<8} {r['file_mb']:>9,.0f} {r['seconds']:>9.1f} "
            f"{r['rows_per_second']:>12,} {r['mb_per_second']:>8.1f} {r['peak_rss_mb']:>12,}"
        )
    RESULTS.mkdir(exist_ok=True)
    machine = {
        "cpus": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    (RESULTS / "ingest.json").write_text(
        json.dumps({"machine": machine, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
