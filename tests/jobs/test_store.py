"""JobStore on a real SQLite file: creation, limits, the UWS job-list filters, the
compare-and-set transitions, destruction and persistence."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.jobs import Job, JobError, JobLimits, JobResult, JobStore, Phase

LIMITS = JobLimits(
    default_execution_duration=60,
    max_execution_duration=600,
    default_destruction=3600,
    max_destruction=86400,
    max_workers=1,
)


def open_store(tmp_path: Path) -> JobStore:
    return JobStore(f"sqlite:///{tmp_path / 'state.sqlite'}", tmp_path / "jobs", limits=LIMITS)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with open_store(tmp_path) as s:
        yield s


def finished(store: JobStore, job: Job, phase: Phase) -> Job:
    """Move a new job to a final phase through the runner's transitions."""
    assert store.mark_queued(job.job_id) is not None
    assert store.mark_executing(job.job_id) is not None
    if phase is Phase.COMPLETED:
        done = store.mark_completed(job.job_id, ())
    elif phase is Phase.ERROR:
        done = store.mark_error(job.job_id, JobError("broken"))
    else:
        done = store.mark_aborted(job.job_id)
    assert done is not None
    return done


# -- creation and limits ----------------------------------------------------------------


def test_create_gives_a_pending_job_with_an_unguessable_id(store: JobStore) -> None:
    job = store.create("tap", "alice", {"QUERY": "SELECT 1", "Lang": "ADQL"}, run_id="r1")
    other = store.create("tap", "alice", {})

    assert job.phase is Phase.PENDING
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", job.job_id)
    assert job.job_id != other.job_id
    assert job.parameters == {"query": "SELECT 1", "lang": "ADQL"}
    assert (job.kind, job.owner, job.run_id) == ("tap", "alice", "r1")
    assert job.creation_time.tzinfo is not None
    assert job.execution_duration == LIMITS.default_execution_duration
    assert job.destruction == job.creation_time + timedelta(seconds=LIMITS.default_destruction)
    assert job.error is None and job.results == () and job.start_time is None
    assert store.get(job.job_id) == job


@pytest.mark.parametrize(
    ("asked", "given"),
    [(None, 60), (1, 1), (600, 600), (601, 600), (0, 600)],
)
def test_execution_duration_is_clamped_to_the_maximum(
    store: JobStore, asked: int | None, given: int
) -> None:
    """UWS 1.1 §2.2.3.4: the server chooses; 0 ("no limit") gets the maximum."""
    assert store.create("tap", "alice", {}, execution_duration=asked).execution_duration == given


def test_negative_execution_duration_is_refused(store: JobStore) -> None:
    with pytest.raises(UsageError, match="0 or more"):
        store.create("tap", "alice", {}, execution_duration=-5)


def test_destruction_is_clamped_to_the_maximum_retention(store: JobStore) -> None:
    far = datetime.now(UTC) + timedelta(days=365)
    job = store.create("tap", "alice", {}, destruction=far)
    assert job.destruction == job.creation_time + timedelta(seconds=LIMITS.max_destruction)

    soon = job.creation_time + timedelta(minutes=5)
    assert store.set_destruction(job.job_id, soon).destruction == soon
    assert store.set_destruction(job.job_id, far).destruction == job.destruction
    # A naive time is UTC.
    naive = (job.creation_time + timedelta(minutes=7)).replace(tzinfo=None)
    assert store.set_destruction(job.job_id, naive).destruction == naive.replace(tzinfo=UTC)


def test_get_unknown_job_is_not_found(store: JobStore) -> None:
    with pytest.raises(NotFoundError):
        store.get("no-such-job")


# -- changes allowed only while PENDING ---------------------------------------------------


def test_parameters_change_only_while_pending(store: JobStore) -> None:
    job = store.create("tap", "alice", {"query": "SELECT 1", "maxrec": "5"})
    job = store.update_parameters(job.job_id, {"MAXREC": "10", "Format": "csv"})
    assert job.parameters == {"query": "SELECT 1", "maxrec": "10", "format": "csv"}

    store.mark_queued(job.job_id)
    with pytest.raises(ConflictError, match="QUEUED.*only while it is PENDING"):
        store.update_parameters(job.job_id, {"maxrec": "20"})
    assert store.get(job.job_id).parameters["maxrec"] == "10"


def test_execution_duration_changes_only_while_pending(store: JobStore) -> None:
    job = store.create("tap", "alice", {})
    assert store.set_execution_duration(job.job_id, 30).execution_duration == 30
    assert store.set_execution_duration(job.job_id, 10_000).execution_duration == 600
    store.mark_queued(job.job_id)
    with pytest.raises(ConflictError, match="PENDING"):
        store.set_execution_duration(job.job_id, 30)


def test_changes_to_a_missing_job_are_not_found(store: JobStore) -> None:
    with pytest.raises(NotFoundError):
        store.update_parameters("gone", {"a": "b"})
    with pytest.raises(NotFoundError):
        store.set_destruction("gone", datetime.now(UTC))


# -- the job list (UWS 1.1 §2.2.2.1) ------------------------------------------------------


def test_list_shows_only_the_owners_jobs(store: JobStore) -> None:
    a1 = store.create("tap", "alice", {})
    b1 = store.create("tap", "bob", {})
    a2 = store.create("tap", "alice", {})
    store.create("tap", None, {})

    assert [j.job_id for j in store.list("alice")] == [a1.job_id, a2.job_id]
    assert [j.job_id for j in store.list("bob")] == [b1.job_id]
    assert store.list("carol") == []
    # Anonymous jobs are reachable by id only, never listed, not even for "None".
    assert store.list(None) == []


def test_list_filters_by_phase(store: JobStore) -> None:
    pending = store.create("tap", "alice", {})
    done = finished(store, store.create("tap", "alice", {}), Phase.COMPLETED)
    failed = finished(store, store.create("tap", "alice", {}), Phase.ERROR)

    assert [j.job_id for j in store.list("alice", phases=[Phase.PENDING])] == [pending.job_id]
    both = store.list("alice", phases={Phase.COMPLETED, Phase.ERROR})
    assert [j.job_id for j in both] == [done.job_id, failed.job_id]
    assert store.list("alice", phases=[Phase.EXECUTING]) == []


def test_archived_jobs_are_listed_only_when_asked_for(store: JobStore) -> None:
    kept = store.create("tap", "alice", {})
    old = finished(store, store.create("tap", "alice", {}), Phase.COMPLETED)
    assert store.transition(old.job_id, Phase.ARCHIVED) is not None

    assert [j.job_id for j in store.list("alice")] == [kept.job_id]
    assert [j.job_id for j in store.list("alice", phases=[Phase.ARCHIVED])] == [old.job_id]


def test_list_after_and_last(store: JobStore) -> None:
    jobs = [store.create("tap", "alice", {}) for _ in range(4)]
    ids = [j.job_id for j in jobs]

    # AFTER: created strictly later.
    after = store.list("alice", after=jobs[1].creation_time)
    assert [j.job_id for j in after] == ids[2:]
    naive = jobs[1].creation_time.replace(tzinfo=None)
    assert [j.job_id for j in store.list("alice", after=naive)] == ids[2:]
    # LAST: the most recent N, newest first.
    assert [j.job_id for j in store.list("alice", last=2)] == [ids[3], ids[2]]
    assert [j.job_id for j in store.list("alice", last=10)] == ids[::-1]
    assert store.list("alice", last=0) == []
    # Together, with a phase filter.
    finished(store, jobs[3], Phase.ABORTED)
    combined = store.list("alice", phases=[Phase.PENDING], after=jobs[0].creation_time, last=1)
    assert [j.job_id for j in combined] == [ids[2]]
    with pytest.raises(UsageError):
        store.list("alice", last=-1)


# -- transitions --------------------------------------------------------------------------


def test_transitions_record_times_results_and_errors(store: JobStore) -> None:
    job = store.create("tap", "alice", {})
    assert store.mark_queued(job.job_id).phase is Phase.QUEUED  # type: ignore[union-attr]
    running = store.mark_executing(job.job_id)
    assert running is not None and running.start_time is not None
    result = JobResult("result", "result.vot", "application/x-votable+xml", 120, 3, True)
    done = store.mark_completed(job.job_id, (result,))
    assert done is not None and done.phase is Phase.COMPLETED
    assert done.results == (result,)
    assert done.end_time is not None and done.end_time >= running.start_time

    failed = store.create("tap", "alice", {})
    store.mark_queued(failed.job_id)
    store.mark_executing(failed.job_id)
    error = JobError("bad column", fatal=True, code="usage_error", status_code=400)
    assert store.mark_error(failed.job_id, error).error == error  # type: ignore[union-attr]


def test_a_job_aborted_while_finishing_stays_aborted(store: JobStore) -> None:
    job = store.create("tap", "alice", {})
    store.mark_queued(job.job_id)
    store.mark_executing(job.job_id)
    assert store.mark_aborted(job.job_id) is not None
    assert store.mark_completed(job.job_id, ()) is None
    assert store.mark_error(job.job_id, JobError("late")) is None
    assert store.get(job.job_id).phase is Phase.ABORTED


def test_a_completed_job_cannot_be_aborted_or_rerun(store: JobStore) -> None:
    done = finished(store, store.create("tap", "alice", {}), Phase.COMPLETED)
    assert store.mark_aborted(done.job_id) is None
    assert store.mark_queued(done.job_id) is None
    assert store.mark_executing(done.job_id) is None
    assert store.get(done.job_id).phase is Phase.COMPLETED


def test_transitions_outside_the_phase_table_are_refused(store: JobStore) -> None:
    job = store.create("tap", "alice", {})
    with pytest.raises(ValueError, match="cannot move"):
        store.transition(job.job_id, Phase.COMPLETED, expected=(Phase.PENDING,))
    with pytest.raises(NotFoundError):
        store.mark_queued("gone")


def test_listeners_hear_phase_changes_and_deletions(store: JobStore) -> None:
    heard: list[str] = []
    store.subscribe(heard.append)
    job = store.create("tap", "alice", {})
    store.update_parameters(job.job_id, {"a": "b"})
    assert heard == []
    store.mark_queued(job.job_id)
    store.mark_queued(job.job_id)  # lost compare-and-set: no change, no news
    store.delete(job.job_id)
    assert heard == [job.job_id, job.job_id]


# -- destruction and files -------------------------------------------------------------------


def test_expired_and_delete_remove_rows_and_files(store: JobStore) -> None:
    now = datetime.now(UTC)
    old = store.create("tap", "alice", {}, destruction=now - timedelta(seconds=1))
    young = store.create("tap", "alice", {})
    for job in (old, young):
        store.job_dir(job.job_id).mkdir(parents=True)
        (store.job_dir(job.job_id) / "result.csv").write_text("a\n1\n")

    assert store.expired(now) == [old.job_id]
    store.delete(old.job_id)
    assert not store.job_dir(old.job_id).exists()
    with pytest.raises(NotFoundError):
        store.get(old.job_id)
    with pytest.raises(NotFoundError):
        store.delete(old.job_id)
    assert (store.job_dir(young.job_id) / "result.csv").exists()
    assert store.expired(now + timedelta(days=31)) == [young.job_id]


def test_job_dir_refuses_ids_that_are_not_job_ids(store: JobStore) -> None:
    with pytest.raises(NotFoundError):
        store.job_dir("../state.sqlite")
    with pytest.raises(NotFoundError):
        store.delete("../../etc")


def test_jobs_survive_reopening_the_store(tmp_path: Path) -> None:
    with open_store(tmp_path) as first:
        job = first.create("tap", "alice", {"query": "SELECT 1"})
        first.mark_queued(job.job_id)
        first.mark_executing(job.job_id)
        result = JobResult("result", "out.csv", "text/csv", size=4, rows=1)
        done = first.mark_completed(job.job_id, (result,))
    with open_store(tmp_path) as second:
        assert second.get(job.job_id) == done
        assert second.list("alice") == [done]


def test_sqlite_state_uses_write_ahead_logging(tmp_path: Path, store: JobStore) -> None:
    store.create("tap", "alice", {})
    connection = sqlite3.connect(tmp_path / "state.sqlite")
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()
