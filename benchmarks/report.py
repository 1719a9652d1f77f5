"""The suite's report: JSON for machines, a markdown table for people, targets checked.

The targets are what Data Lab aims for against each peer; the report says whether a
run met them and never fails a run that did not (timings depend on the machine).
Each target is judged on the weakest of its cases, so "met" holds for all of them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import Case, Workload

__all__ = ["Target", "markdown", "targets", "write"]


@dataclass
class Target:
    """One aim, what the run measured for it, and whether that meets it."""

    aim: str
    measured: str
    met: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "no", None: "not measured"}[self.met]


def fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit in ("rows/s", "MB/s", "queries/s") and value >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratios(
    work: Workload, pairs: Sequence[tuple[str, str]], keep: Callable[[Case], bool] = lambda c: True
) -> list[tuple[Case, float]]:
    found = []
    for case in work.cases:
        if not keep(case):
            continue
        for peer, ours in pairs:
            r = work.ratio(case, peer, ours)
            if r is not None:
                found.append((case, r))
    return found


def _ratio_target(aim: str, found: list[tuple[Case, float]], need: float, what: str) -> Target:
    if not found:
        return Target(aim, "not measured", None)
    low = min(r for _, r in found)
    high = max(r for _, r in found)
    span = f"{low:.1f}x" if len(found) == 1 else f"{low:.1f}x to {high:.1f}x"
    return Target(aim, f"{span} ({what}, {len(found)} case{'s' * (len(found) > 1)})", low >= need)


def targets(works: dict[str, Workload]) -> list[Target]:
    """The suite's targets, each judged on the weakest case that measures it."""
    out: list[Target] = []
    cone = works.get("cone")
    out.append(
        _ratio_target(
            "In-process small (1') cones faster than pgSphere's GiST index",
            _ratios(cone, [("pgSphere", "Data Lab")], lambda c: c.label.startswith("1'"))
            if cone
            else [],
            1.0,
            "pgSphere median / Data Lab median",
        )
    )
    batches = works.get("cone_batch")
    small_batches = (
        _ratios(batches, [("pgSphere", "Data Lab")], lambda c: c.label.startswith("1'"))
        if batches
        else []
    )
    if batches and cone:
        # A batched cone against pgSphere answering that cone alone, its usual use.
        for case in batches.cases:
            single = next((c for c in cone.cases if c.label == case.label), None)
            ours = case.values.get("Data Lab")
            if case.label.startswith("1'") and single and ours:
                small_batches.append((case, single.values["pgSphere"] / ours))
    out.append(
        _ratio_target(
            "Small (1') cones batched into one join (--centres per query), faster per cone"
            " than pgSphere's GiST index",
            small_batches,
            1.0,
            "pgSphere per cone, batched the same way and one query per cone / Data Lab"
            " per cone in process",
        )
    )
    dachs_found: list[tuple[Case, float]] = []
    if cone and "DaCHS" in cone.engines:
        dachs_found += _ratios(cone, [("DaCHS", "Data Lab TAP")])
    conc = works.get("concurrency")
    if conc and "DaCHS" in conc.engines:
        dachs_found += _ratios(conc, [("DaCHS", "Data Lab TAP")])
    agg = works.get("aggregate")
    if agg and "DaCHS" in agg.engines:
        dachs_found += _ratios(agg, [("DaCHS", "Data Lab TAP")])
    out.append(
        _ratio_target(
            "TAP at least 10x faster than DaCHS",
            dachs_found,
            10.0,
            "DaCHS / Data Lab TAP: latency medians and throughput",
        )
    )
    out.append(
        _ratio_target(
            "At least 15x faster than PostgreSQL on full-scan aggregates",
            _ratios(agg, [("PostgreSQL", "Data Lab")]) if agg else [],
            15.0,
            "PostgreSQL / Data Lab in process",
        )
    )
    xmatch = works.get("xmatch")
    out.append(
        _ratio_target(
            "At least 5x faster than q3c_join on crossmatch",
            _ratios(xmatch, [("Q3C", "Data Lab"), ("Q3C", "Data Lab myDB")]) if xmatch else [],
            5.0,
            "Q3C / Data Lab in process, upload and myDB joins",
        )
    )
    ingest = works.get("ingest")
    out.append(
        _ratio_target(
            "At least 10x faster ingest than COPY + index + CLUSTER",
            _ratios(ingest, [("PostgreSQL", "Data Lab")]) if ingest else [],
            10.0,
            "Data Lab rows/s / PostgreSQL rows/s, Parquet, CSV and FITS",
        )
    )
    stream = works.get("stream")
    wanted = [c for c in stream.cases if c.label in ("CSV", "Parquet")] if stream else []
    if wanted:
        parts = []
        met = True
        for case in wanted:
            rate = case.extra["mb_per_s"]["Data Lab TAP"]
            rss = case.extra["server_rss_mb"]
            flat = bool(case.extra["memory_independent_of_size"])
            met = met and rate >= 100 and flat
            parts.append(
                f"{case.label} {rate:,.0f} MB/s, server memory +{rss['rise_quarter']:.0f}"
                f" MB for {case.extra['rows'] // 4:,} rows, +{rss['rise_full']:.0f} MB"
                f" for {case.extra['rows']:,}"
            )
        out.append(
            Target(
                "CSV and Parquet streaming at least 100 MB/s, memory independent of size",
                "; ".join(parts),
                met,
            )
        )
    else:
        out.append(
            Target(
                "CSV and Parquet streaming at least 100 MB/s, memory independent of size",
                "not measured",
                None,
            )
        )
    return out


def _short(engine: str) -> str:
    return {"Data Lab": "DL", "Data Lab TAP": "DL TAP", "Data Lab myDB": "DL myDB"}.get(
        engine, engine
    )


def _table(work: Workload) -> list[str]:
    units = {work.unit_of(c) for c in work.cases}
    one_unit = len(units) == 1
    timing = {"ms", "s"}
    head = ["case", *work.engines, *(f"{_short(o)} vs {p}" for p, o in work.ratios), "check"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(work.engines) + len(work.ratios)) + "---|",
    ]
    for case in work.cases:
        unit = work.unit_of(case)
        cells = [case.label if one_unit else f"{case.label} ({unit})"]
        for engine in work.engines:
            value = case.values.get(engine)
            text = fmt(value, unit)
            if value is not None and unit in timing and engine in case.p95:
                text += f" ({fmt(case.p95[engine], unit)})"
            cells.append(text)
        for peer, ours in work.ratios:
            r = work.ratio(case, peer, ours)
            cells.append("-" if r is None else f"{r:.1f}x")
        cells.append(case.check.replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _unit_note(work: Workload) -> str:
    units = {work.unit_of(c) for c in work.cases}
    if units <= {"ms", "s"}:
        return f"median {'/'.join(sorted(units))} (95th percentile)"
    return "/".join(sorted(units))


def markdown(meta: dict[str, Any], works: dict[str, Workload], aims: list[Target]) -> str:
    lines = [
        # Heading levels that fit under "Latest results" in docs/performance.md.
        f"#### {meta['rows']:,} rows ({meta['table_rows']:,} in the table), {meta['started']}",
        "",
        f"{meta['machine']['cores']} cores, {meta['machine']['memory_gb']} GiB,"
        f" Python {meta['machine']['python']}, {meta['postgres']},"
        f" pgSphere loaded by {meta['pgsphere_route']}; DaCHS: {meta['dachs']};"
        f" --repeat {meta['repeat']}." + (f" {meta['label']}." if meta.get("label") else ""),
        "",
        "A ratio is how many times faster Data Lab (DL: in process, DL TAP: its TAP"
        " endpoint over HTTP) is than the peer; above 1 is faster.",
        "",
        "| target | measured | met? |",
        "|---|---|---|",
        *(f"| {t.aim} | {t.measured} | {t.verdict} |" for t in aims),
    ]
    for work in works.values():
        lines += ["", f"##### {work.title} ({_unit_note(work)})", "", *_table(work)]
        lines += [""] + [f"{note}." for note in work.notes]
        if work.key == "stream":
            lines += [
                "",
                "| format | DL TAP s (p95) | DL TAP MB/s | astropy s (rows) |"
                " astropy MB/s | server RSS rise MB, N/4 rows | server RSS rise MB, N rows"
                " | server peak RSS MB |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for case in work.cases:
                rss = case.extra["server_rss_mb"]
                rates = case.extra["mb_per_s"]
                secs = case.extra["seconds"]
                p95 = case.extra["seconds_p95"]
                lines.append(
                    f"| {case.label} | {secs['Data Lab TAP']:.2f} ({p95['Data Lab TAP']:.2f}) |"
                    f" {rates['Data Lab TAP']:,.1f} | {secs['astropy']:.2f}"
                    f" ({case.extra['rows_written']['astropy']:,}) | {rates['astropy']:,.1f} |"
                    f" {rss['rise_quarter']:,.0f} | {rss['rise_full']:,.0f} |"
                    f" {rss['peak_full']:,.0f} |"
                )
        if work.key == "ingest":
            setup = work.info.get("postgres_setup") or {}
            if setup.get("seconds"):
                order = [
                    "copy",
                    "q3c_index",
                    "cluster",
                    "pgsphere_load",
                    "pgsphere_index",
                    "vacuum_analyze",
                ]
                steps = ", ".join(
                    f"{k} {setup['seconds'][k]:,.1f} s"
                    for k in sorted(
                        setup["seconds"],
                        key=lambda k: (k not in order, order.index(k) if k in order else 0),
                    )
                )
                lines += [
                    "",
                    f"PostgreSQL set-up, {setup.get('rows', 0):,} rows: {steps};"
                    f" query-ready (COPY + Q3C index + CLUSTER + VACUUM ANALYZE)"
                    f" {setup.get('query_ready_seconds', 0):,.1f} s.",
                ]
    return "\n".join(lines) + "\n"


def write(
    out: Path, meta: dict[str, Any], works: dict[str, Workload], aims: list[Target]
) -> tuple[Path, Path, str]:
    """``suite-<rows>.json`` and ``.md`` in ``out``; returns both paths and the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(meta, works, aims)
    stem = f"suite-{meta['rows']}"
    json_path = out / f"{stem}.json"
    md_path = out / f"{stem}.md"
    json_path.write_text(
        json.dumps(
            {
                **meta,
                "targets": [{"aim": t.aim, "measured": t.measured, "met": t.met} for t in aims],
                "workloads": {k: w.as_json() for k, w in works.items()},
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    md_path.write_text(text)
    return json_path, md_path, text
