"""Image services end to end: SIA 1.0 / SIA 2.0 query latency and SODA cutout throughput.

Starts the real server (``datalab serve --no-demo``) on a free loopback port, on a data
directory holding the demo catalogs (no mock survey) and the demo images
(``make_demo_images`` + ``ingest_images``: simulated g/r/i exposures and stacks of the
Pleiades, Orion's belt, M31, the LMC edge and the NGP), then measures:

* SIA 1.0 (``/sia``, POS + SIZE 0.1 deg, VERB=2 as the Data Lab notebooks ask) and
  SIA 2.0 (``/sia2/query``, POS=CIRCLE r=0.05 deg) latency: one client, every request
  at its own random position inside a demo image (uniform in its bounding circle);
  median and p95. Every answer must be HTTP 200 with at least one row.
* SODA cutouts (``/soda/sync``, CIRCLE of ``--radius`` deg, default 0.05, at random
  positions inside random stacks): cutouts/s and MB/s with 1 and 4 concurrent clients
  (threads, one ``httpx.Client`` each). Every answer must be a 200 FITS file.

    .venv/bin/python benchmarks/images.py
    .venv/bin/python benchmarks/images.py --requests 400 --cutouts 200 --radius 0.1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.support import summary
from benchmarks.tap import server
from datalab.catalog import Engine
from datalab.images import ImageIndex, ImageRecord, ingest_images, make_demo_images

RESULTS = Path(__file__).parent / "results"
DEFAULT_HOME = Path("/tmp/datalab-bench-images")
WORKERS = (1, 4)


def ensure_home(home: Path) -> list[ImageRecord]:
    """The data directory with the demo catalogs and images; the image records."""
    catalog = home / "catalog.duckdb"
    if not catalog.exists():
        print(f"building {home} (datalab init, demo images)...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "datalab", "init", "--data-dir", str(home),
             "--mock-rows", "0"],
            check=True,
        )  # fmt: skip
    images = home / "images"
    engine = Engine(catalog)
    try:
        index = ImageIndex.from_engine(engine, images)
        if not len(index):
            make_demo_images(engine, images)
    finally:
        engine.close()
    if not len(index):
        ingest_images([images], catalog, images)
        engine = Engine(catalog)
        try:
            index = ImageIndex.from_engine(engine, images)
        finally:
            engine.close()
    return list(index.records())


def inside(record: ImageRecord, rng: random.Random, margin: float = 0.0) -> tuple[float, float]:
    """A random position within the image's bounding circle, shrunk by ``margin`` deg."""
    radius = max(record.s_fov / 2 * 0.7 - margin, 0.0)
    r = radius * math.sqrt(rng.random())
    angle = rng.uniform(0, 2 * math.pi)
    dec = record.s_dec + r * math.sin(angle)
    ra = (record.s_ra + r * math.cos(angle) / math.cos(math.radians(dec))) % 360.0
    return ra, dec


def sia_latency(base: str, records: list[ImageRecord], n: int, seed: int) -> dict[str, dict]:
    rng = random.Random(seed)
    out = {}
    with httpx.Client(timeout=60) as client:
        for label, url, params in (
            ("SIA 1.0 VERB=2", f"{base}/sia",
             lambda ra, dec: {"POS": f"{ra},{dec}", "SIZE": "0.1", "VERB": "2"}),
            ("SIA 2.0", f"{base}/sia2/query",
             lambda ra, dec: {"POS": f"CIRCLE {ra} {dec} 0.05"}),
        ):  # fmt: skip
            for _ in range(5):  # warm-up
                client.get(url, params=params(*inside(rng.choice(records), rng)))
            times, rows = [], []
            for _ in range(n):
                ra, dec = inside(rng.choice(records), rng)
                start = time.perf_counter()
                r = client.get(url, params=params(ra, dec))
                times.append(time.perf_counter() - start)
                if r.status_code != 200 or b"<TR>" not in r.content:
                    raise RuntimeError(f"{label} at {ra},{dec}: {r.status_code} {r.text[:300]}")
                rows.append(r.content.count(b"<TR>"))
            median, p95 = summary(times)
            out[label] = {"median_ms": median, "p95_ms": p95, "requests": n,
                          "mean_rows": sum(rows) / n}  # fmt: skip
            print(f"{label:<16} median {median:6.1f} ms  p95 {p95:6.1f} ms"
                  f"  ({n} requests, {sum(rows) / n:.1f} rows each)", flush=True)  # fmt: skip
    return out


def cutouts(base: str, stacks: list[ImageRecord], n: int, workers: int, radius: float,
            seed: int) -> dict:  # fmt: skip
    rng = random.Random(seed)
    jobs = []
    for _ in range(n):
        record = rng.choice(stacks)
        ra, dec = inside(record, rng, margin=radius)
        jobs.append({"ID": record.image_id, "CIRCLE": f"{ra} {dec} {radius}"})
    lock = threading.Lock()
    sizes: list[int] = []
    latencies: list[float] = []
    errors: list[str] = []

    def work(part: list[dict]) -> None:
        with httpx.Client(timeout=120) as client:
            for params in part:
                start = time.perf_counter()
                r = client.get(f"{base}/soda/sync", params=params)
                took = time.perf_counter() - start
                with lock:
                    if r.status_code != 200 or r.content[:6] != b"SIMPLE":
                        errors.append(f"{params}: {r.status_code} {r.text[:200]}")
                    sizes.append(len(r.content))
                    latencies.append(took)

    with httpx.Client(timeout=120) as client:  # warm-up
        for params in jobs[:3]:
            client.get(f"{base}/soda/sync", params=params)
    threads = [threading.Thread(target=work, args=(jobs[i::workers],)) for i in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} cutouts failed, e.g. {errors[0]}")
    median, p95 = summary(latencies)
    result = {
        "workers": workers, "cutouts": n, "radius_deg": radius,
        "cutouts_per_s": n / wall, "mb_per_s": sum(sizes) / wall / 1e6,
        "mean_kb": sum(sizes) / n / 1e3, "median_ms": median, "p95_ms": p95,
    }  # fmt: skip
    print(f"cutouts r={radius:g} deg, {workers} client(s): {result['cutouts_per_s']:6.1f}/s"
          f"  {result['mb_per_s']:6.1f} MB/s  median {median:6.1f} ms  p95 {p95:6.1f} ms"
          f"  ({result['mean_kb']:.0f} kB each)", flush=True)  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--requests", type=int, default=200, help="SIA queries per protocol")
    parser.add_argument("--cutouts", type=int, default=100, help="cutouts per configuration")
    parser.add_argument("--radius", type=float, default=0.05, help="cutout radius (deg)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    records = ensure_home(args.home)
    stacks = [r for r in records if r.proctype == "Stacked"] or records
    print(f"{len(records)} images ({len(stacks)} stacks), {os.cpu_count()} cores", flush=True)
    with server(args.home, RESULTS / "images-server.log") as (base, _proc):
        sia = sia_latency(base, records, args.requests, args.seed)
        cuts = [cutouts(base, stacks, args.cutouts, w, args.radius, args.seed + w)
                for w in WORKERS]  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "images.json").write_text(json.dumps({
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "images": len(records), "sia": sia, "cutouts": cuts,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
