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

import psutil

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--formats", default="parquet,csv,fits")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep files here.")
    args = parser.parse_args()

    datalab = [sys.executable, "-m", "datalab"]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="datalab-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for fmt in args.formats.split(","):
            source = work / f"mock-{args.rows}.{fmt}"
            if not source.exists():
                took, _, _ = run_measured(
                    [*datalab, "mock", "--rows", str(args.rows), "--output", str(source)]
                )
                print(
                    f"wrote {source.name} ({source.stat().st_size / 1e6:,.0f} MB) in {took:.1f} s"
                )
            home = work / f"home-{fmt}"
            shutil.rmtree(home, ignore_errors=True)
            took, peak, _ = run_measured(
                [
                    *datalab,
                    "ingest",
                    str(source),
                    "--table",
                    "bench.tractor",
                    "--data-dir",
                    str(home),
                ]
            )
            size = source.stat().st_size
            results.append(
                {
                    "format": fmt,
                    "rows": args.rows,
                    "file_mb": round(size / 1e6, 1),
                    "seconds": round(took, 2),
                    "rows_per_second": round(args.rows / took),
                    "mb_per_second": round(size / 1e6 / took, 1),
                    "peak_rss_mb": round(peak / 1e6),
                }
            )
            shutil.rmtree(home, ignore_errors=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"Ingest of {args.rows:,} synthetic rows into a sorted, HEALPix-indexed table")
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
