"""The UWS 1.1 phase machine as a table (§2.2.3.1 and its state diagram, figure 2).

Every phase change goes through the store's one transition method, which checks the
move against this table and applies it as a compare-and-set on the current phase.
"""

from __future__ import annotations

from collections.abc import Mapping

from datalab.jobs.model import Phase

__all__ = ["TRANSITIONS", "sources"]

# Which phases each phase may move to. HELD and SUSPENDED are never entered by this
# server but are listed so that the table is the whole diagram. ARCHIVED is reachable
# from every final phase (§2.2.3.1), although this server destroys jobs outright.
TRANSITIONS: Mapping[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.QUEUED, Phase.HELD, Phase.ABORTED, Phase.ERROR}),
    Phase.HELD: frozenset({Phase.QUEUED, Phase.ABORTED, Phase.ERROR}),
    Phase.QUEUED: frozenset({Phase.EXECUTING, Phase.ABORTED, Phase.ERROR}),
    Phase.EXECUTING: frozenset(
        {Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.SUSPENDED}
    ),
    Phase.SUSPENDED: frozenset({Phase.EXECUTING, Phase.ABORTED, Phase.ERROR}),
    Phase.COMPLETED: frozenset({Phase.ARCHIVED}),
    Phase.ERROR: frozenset({Phase.ARCHIVED}),
    Phase.ABORTED: frozenset({Phase.ARCHIVED}),
    Phase.UNKNOWN: frozenset({Phase.ERROR, Phase.ABORTED}),
    Phase.ARCHIVED: frozenset(),
}


def sources(target: Phase) -> frozenset[Phase]:
    """The phases from which a job may move to ``target``."""
    return frozenset(phase for phase, targets in TRANSITIONS.items() if target in targets)
