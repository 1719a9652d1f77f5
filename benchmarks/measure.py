"""Timing shared by the suite's workloads: interleaved runs and what they report.

Every engine of a workload runs the same item (query, centre, probe list) before the
next item starts, in an order that rotates from item to item, so that a busy moment of
the machine, a cache warmed by the previous query or a slow first minute falls on all
engines alike instead of on whichever ran first.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Case", "Interleaved", "Workload", "interleaved", "percentile"]

T = TypeVar("T")
R = TypeVar("R")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest rank, as ``support.summary`` uses."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Interleaved(Generic[R]):
    """Seconds and answers per engine, in item order."""

    seconds: dict[str, list[float]]
    answers: dict[str, list[R]]

    def median_ms(self, engine: str) -> float:
        return statistics.median(self.seconds[engine]) * 1e3

    def p95_ms(self, engine: str) -> float:
        return percentile(self.seconds[engine], 0.95) * 1e3

    def disagreements(self, key: Callable[[R], Any] = lambda a: a) -> tuple[int, list[str]]:
        """Items on which some engine's answer differs from the first engine's."""
        engines = list(self.answers)
        if len(engines) < 2:
            return 0, []
        first = engines[0]
        bad = 0
        examples: list[str] = []
        for i, reference in enumerate(self.answers[first]):
            want = key(reference)
            odd = [e for e in engines[1:] if key(self.answers[e][i]) != want]
            if odd:
                bad += 1
                if len(examples) < 3:
                    got = ", ".join(f"{e}: {key(self.answers[e][i])!r}"[:80] for e in odd)
                    examples.append(f"item {i}: {first}: {want!r}"[:80] + f"; {got}")
        return bad, examples


def interleaved(
    items: Sequence[T],
    engines: Mapping[str, Callable[[T], R]],
    warmup: Sequence[T] = (),
) -> Interleaved[R]:
    """Run every item on every engine, rotating the order; warm-up items untimed."""
    names = list(engines)
    for item in warmup:
        for name in names:
            engines[name](item)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    answers: dict[str, list[R]] = {n: [] for n in names}
    for i, item in enumerate(items):
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            started = time.perf_counter()
            answer = engines[name](item)
            seconds[name].append(time.perf_counter() - started)
            answers[name].append(answer)
    return Interleaved(seconds, answers)


@dataclass
class Case:
    """One line of a workload's table: a figure per engine and how they compare."""

    label: str
    values: dict[str, float]  # engine -> headline figure (a median, a rate, ...)
    p95: dict[str, float] = field(default_factory=dict)
    check: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # A case measured in another unit than the rest of its workload (None: the same).
    unit: str | None = None
    higher_is_better: bool | None = None


@dataclass
class Workload:
    """A workload's result: its cases, and which figures are compared with which.

    ``unit`` is the headline figure's unit; with ``higher_is_better`` a ratio is ours
    over theirs, otherwise theirs over ours, so a ratio above 1 always means Data Lab
    is that many times faster. ``ratios`` lists (peer, Data Lab engine) pairs.
    """

    key: str
    title: str
    unit: str
    engines: list[str]
    ratios: list[tuple[str, str]]
    cases: list[Case] = field(default_factory=list)
    higher_is_better: bool = False
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def unit_of(self, case: Case) -> str:
        return case.unit or self.unit

    def ratio(self, case: Case, peer: str, ours: str) -> float | None:
        theirs, mine = case.values.get(peer), case.values.get(ours)
        if theirs is None or mine is None or not theirs > 0 or not mine > 0:
            return None
        higher = self.higher_is_better if case.higher_is_better is None else case.higher_is_better
        return mine / theirs if higher else theirs / mine

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "engines": self.engines,
            "notes": self.notes,
            "info": self.info,
            "cases": [
                {
                    "label": c.label,
                    "unit": self.unit_of(c),
                    "values": c.values,
                    "p95": c.p95,
                    "check": c.check,
                    "extra": c.extra,
                    "ratios": {
                        f"{peer} / {ours}": self.ratio(c, peer, ours) for peer, ours in self.ratios
                    },
                }
                for c in self.cases
            ],
        }
