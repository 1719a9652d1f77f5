"""DaCHS, GAVO's Data Center Helper Suite, serving the suite's PostgreSQL table over TAP.

DaCHS is the TAP server many data centers run; it keeps its catalogs in PostgreSQL
with Q3C or pgSphere, so the fair way to measure it is on the very table the suite
loaded: ``ls_mock.tractor`` in the private cluster, Q3C-indexed and clustered.

The Debian package ``gavodachs2-server`` holds only the system service and a
post-install step that sets DaCHS up on the system's PostgreSQL cluster (``createdb
gavo`` on port 5432, ``/var/gavo``); DaCHS itself is the package ``python3-gavo`` (the
``dachs`` command). The suite installs that package and sets DaCHS up in the work
directory instead, pointed at the private cluster, so that nothing of the system is
taken over:

1. a configuration file (``GAVOSETTINGS``) with the root directory in the work
   directory, a free port of loopback, and the server user;
2. ``dachs init -d DSN``: DaCHS's own schemas and roles in the suite's database;
3. the schema and table handed to DaCHS's administrative role (``gavoadmin``) and a
   resource descriptor declaring the table (``mixin="//scs#q3cindex"``, so that
   DaCHS turns ADQL CONTAINS into Q3C calls); ``dachs imp -m`` writes only metadata
   (TAP_SCHEMA) for the existing rows;
4. ``dachs serve start --foreground`` (DaCHS's production mode, not its debug mode),
   stopped when the run ends.

As root, DaCHS runs as the ``postgres`` user, like the cluster.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from benchmarks.context import TapService
from benchmarks.pgload import SCHEMA, TABLE
from benchmarks.postgres import DATABASE, SERVER_USER, Cluster
from benchmarks.support import free_port

__all__ = ["DachsUnavailable", "ensure_installed", "running", "version"]

RESOURCE_DIR = "bench"
_TYPES = {
    "int64": "bigint",
    "int32": "integer",
    "int16": "smallint",
    "double": "double precision",
    "float": "real",
    "string": "text",
    "large_string": "text",
    "bool": "boolean",
}
_UCDS = {"objid": "meta.id;meta.main", "ra": "pos.eq.ra;meta.main", "dec": "pos.eq.dec;meta.main"}


class DachsUnavailable(RuntimeError):
    """DaCHS cannot be run here; the message says why and what is needed."""


def _resource_descriptor(parquet: Path) -> str:
    columns = []
    for field in pq.read_schema(parquet):
        ucd = f' ucd="{_UCDS[field.name]}"' if field.name in _UCDS else ""
        unit = ' unit="deg"' if field.name in ("ra", "dec") else ""
        columns.append(
            f'    <column name="{field.name}" type="{_TYPES[str(field.type)]}"{unit}{ucd}/>'
        )
    body = "\n".join(columns)
    return f"""<resource schema="{SCHEMA}" resdir="{RESOURCE_DIR}">
  <meta name="title">Synthetic survey of the Data Lab benchmark suite</meta>
  <meta name="description">Simulated sources (not real objects), served for comparison.</meta>
  <meta name="creationDate">2024-01-01T00:00:00Z</meta>
  <meta name="subject">surveys</meta>
  <meta name="creator.name">Data Lab benchmark suite</meta>
  <table id="tractor" onDisk="True" adql="True" mixin="//scs#q3cindex">
{body}
  </table>
  <data id="import">
    <make table="tractor"/>
  </data>
</resource>
"""


class _Dachs:
    def __init__(self, root: Path, cluster: Cluster) -> None:
        self.root = root
        self.cluster = cluster
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            self.user = SERVER_USER
            self.group = grp.getgrgid(pwd.getpwnam(SERVER_USER).pw_gid).gr_name
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
            self.group = grp.getgrgid(os.getegid()).gr_name

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *args: str) -> list[str]:
        env = [
            "env",
            f"GAVOSETTINGS={self.root / 'gavo.rc'}",
            "GAVOCUSTOM=/nonexistent",
            f"HOME={self.root}",
        ]
        run_as = ["runuser", "-u", SERVER_USER, "--"] if self.as_root else []
        return [*run_as, *env, "dachs", *args]

    def run(self, *args: str) -> None:
        done = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            cwd=self.root,
            start_new_session=True,
            check=False,
        )
        if done.returncode != 0:
            raise DachsUnavailable(
                f"dachs {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )

    def configure(self, parquet: Path) -> None:
        """Configuration, DaCHS's database objects (once), profiles, the table's metadata.

        ``dachs init`` cannot run twice on one database, and DaCHS keeps the database's
        address in its profiles, while the cluster gets a new port every run: so the
        database is initialised only once, the file tree is rebuilt when missing, and
        the address profile (``etc/dsn``) is written anew each time.
        """
        data = self.root / "root"
        etc = data / "etc"
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "gavo.rc").write_text(
            "[general]\n"
            f"rootDir: {data}\n"
            f"gavoGroup: {self.group}\n"
            f"group: {self.group}\n"
            "logLevel: warning\n"
            "\n[web]\n"
            "bindAddress: 127.0.0.1\n"
            f"serverPort: {self.port}\n"
            f"serverURL: {self.base}\n"
            f"user: {self.user}\n"
            "sitename: Data Lab benchmark peer\n"
        )
        with self.cluster.connect() as con:
            initialised = (
                con.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'dc'").fetchone()
                is not None
            )
        if not initialised:
            shutil.rmtree(data, ignore_errors=True)
            data.mkdir(parents=True)
            self._own()
            self.run(
                "init",
                "-d",
                f"host=127.0.0.1 port={self.cluster.port} user=postgres dbname={DATABASE}",
            )
        elif not (etc / "feed").exists():
            shutil.rmtree(data, ignore_errors=True)
            data.mkdir(parents=True)
            self._own()
            self.run("init", "--nodb")
            # The roles ``dachs init`` made the first time; the cluster trusts loopback
            # connections, so the profiles need no passwords.
            for profile, role in (
                ("feed", "gavoadmin"),
                ("trustedquery", "gavo"),
                ("untrustedquery", "untrusted"),
            ):
                (etc / profile).write_text(f"include dsn\nuser = {role}\n")
        (etc / "dsn").write_text(
            f"database = {DATABASE}\nhost = 127.0.0.1\nport = {self.cluster.port}\n"
        )
        resdir = data / "inputs" / RESOURCE_DIR
        resdir.mkdir(parents=True, exist_ok=True)
        (resdir / "q.rd").write_text(_resource_descriptor(parquet))
        self._own()
        with self.cluster.connect() as con:
            con.execute(f"ALTER SCHEMA {SCHEMA} OWNER TO gavoadmin")
            con.execute(f"ALTER TABLE {TABLE} OWNER TO gavoadmin")
        self.run("imp", "-m", f"{RESOURCE_DIR}/q")

    def _own(self) -> None:
        """As root, everything DaCHS reads and writes belongs to its server user."""
        if self.as_root:
            for path in (self.root, *self.root.rglob("*")):
                shutil.chown(path, self.user, self.group)


def ensure_installed() -> None:
    """Raise :class:`DachsUnavailable` unless the ``dachs`` command is there."""
    if shutil.which("dachs") is None:
        raise DachsUnavailable(
            "DaCHS is not installed: the `dachs` command comes with the Debian package"
            " python3-gavo (DaCHS itself; gavodachs2-server only adds a system service)."
            " scripts/bench --with-dachs installs it when run as root; otherwise run"
            " `apt-get install python3-gavo` as root first."
        )


def version() -> str:
    """The installed DaCHS's Debian version, as dpkg knows it."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "python3-gavo"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


@contextlib.contextmanager
def running(root: Path, cluster: Cluster, parquet: Path) -> Iterator[TapService]:
    """DaCHS serving ``ls_mock.tractor`` of ``cluster`` at ``/tap``; stopped afterwards."""
    ensure_installed()
    started = time.perf_counter()
    dachs = _Dachs(root, cluster)
    dachs.configure(parquet)
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            dachs.command("serve", "start", "--foreground"),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    raise DachsUnavailable(
                        f"the DaCHS server exited ({proc.returncode}); see {log_path}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{dachs.base}/tap/capabilities", timeout=5).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise DachsUnavailable(f"DaCHS did not answer in 180 s; see {log_path}")
                time.sleep(0.5)
            print(
                f"DaCHS serving {TABLE} at {dachs.base}/tap"
                f" (set up in {time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            yield TapService("DaCHS", f"{dachs.base}/tap", TABLE, proc.pid)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
