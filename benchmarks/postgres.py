"""A private PostgreSQL 15 cluster in the benchmark's work directory.

The peer the suite measures against is PostgreSQL as data centers run it for
catalogs (Q3C and pgSphere on a clustered table), set up here from the Debian
packages: ``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/15/bin``, a data
directory of our own, a free port of loopback, and settings sized to the machine.
Nothing of the system's own clusters is touched.

PostgreSQL refuses to run as root; when the suite runs as root the server runs as the
``postgres`` system user (created by the Debian package) through ``runuser``, in a
directory that user owns. The cluster is kept between runs (the loaded catalog with
it) and stopped whenever the run ends: normally, on an error, Ctrl-C or ``kill``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from benchmarks.support import free_port

__all__ = ["PG_BIN", "Cluster", "PostgresMissing", "running"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "bench"
SERVER_USER = "postgres"


class PostgresMissing(RuntimeError):
    """The PostgreSQL 15 programs or the extensions are not installed."""


def _settings() -> dict[str, str]:
    """Server settings a data center would choose for a read-mostly catalog server.

    Memory follows the usual rules of thumb (a quarter of RAM for shared buffers, half
    for the planner's cache estimate), parallel query may use every core, and loading
    writes no WAL for a table created in the same transaction (``wal_level=minimal``).
    JIT compilation is left at PostgreSQL's default.
    """
    ram_mb = psutil.virtual_memory().total // 2**20
    cores = os.cpu_count() or 1
    return {
        "shared_buffers": f"{max(128, min(ram_mb // 4, 8192))}MB",
        "effective_cache_size": f"{max(256, ram_mb // 2)}MB",
        "work_mem": "128MB",
        "maintenance_work_mem": f"{max(64, min(ram_mb // 8, 2048))}MB",
        "max_worker_processes": str(max(8, 2 * cores)),
        "max_parallel_workers": str(cores),
        "max_parallel_workers_per_gather": str(cores),
        "max_parallel_maintenance_workers": str(cores),
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "wal_level": "minimal",
        "max_wal_senders": "0",
        "max_wal_size": "16GB",
        "checkpoint_timeout": "30min",
        "listen_addresses": "'127.0.0.1'",
        "log_min_duration_statement": "-1",
    }


@dataclass
class Cluster:
    """One PostgreSQL data directory under ``root`` and, once started, its server."""

    root: Path
    port: int | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def _as_server_user(self) -> list[str]:
        return ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # A session of its own: a second Ctrl-C must not cut a shutdown short.
        return subprocess.run(
            [*self._as_server_user, *args],
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,
        )

    def dsn(self, database: str = DATABASE) -> str:
        if self.port is None:
            raise RuntimeError("the PostgreSQL server is not running")
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def connect(self, database: str = DATABASE) -> psycopg.Connection:
        """An autocommit connection; statements are sent as written, never prepared."""
        con = psycopg.connect(self.dsn(database), autocommit=True)
        con.prepare_threshold = None
        return con

    def init(self) -> None:
        """Create the data directory once (kept between runs)."""
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (PG_BIN / tool).exists():
                raise PostgresMissing(
                    f"{PG_BIN / tool} is missing: install the Debian package postgresql-15"
                    " (scripts/bench does so when run as root)"
                )
        if (self.data / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresMissing(
                    f"no {SERVER_USER!r} user: install postgresql-15 from Debian"
                ) from None
            shutil.chown(self.root, user.pw_uid, user.pw_gid)
        shutil.rmtree(self.data, ignore_errors=True)
        done = self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if done.returncode != 0:
            hint = (
                f" (the {SERVER_USER} user must be able to reach {self.root}: choose a"
                " --workdir outside home directories)"
                if os.geteuid() == 0
                else ""
            )
            raise RuntimeError(f"initdb failed{hint}:\n{done.stdout}{done.stderr}")
        lines = "".join(f"{k} = {v}\n" for k, v in _settings().items())
        conf = self.data / "postgresql.conf"
        conf.write_text(
            conf.read_text() + "\n# Set by benchmarks/postgres.py for the benchmark suite\n" + lines
        )

    def start(self) -> None:
        """Start the server on a free port, stopping one left behind by a killed run."""
        if self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status").returncode == 0:
            self.stop()
        self.port = free_port()
        done = self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "300",
            "-o",
            f"-p {self.port} -k {self.root}",
            "start",
        )
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}{done.stderr}\n{tail}")

    def stop(self) -> None:
        """A fast shutdown (sessions ended, data kept); waits until the server is gone."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def ensure_database(self) -> None:
        with self.connect("postgres") as con:
            if con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                return
            con.execute(f"CREATE DATABASE {DATABASE}")

    def version(self) -> str:
        with self.connect() as con:
            row = con.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


@contextlib.contextmanager
def running(root: Path) -> Iterator[Cluster]:
    """The cluster under ``root``, started; stopped on the way out, whatever happens."""
    cluster = Cluster(root)
    cluster.init()
    try:
        cluster.start()
        print(
            f"PostgreSQL running on 127.0.0.1:{cluster.port} ({cluster.data})",
            file=sys.stderr,
            flush=True,
        )
        cluster.ensure_database()
        yield cluster
    finally:
        cluster.stop()
