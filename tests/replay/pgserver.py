"""Throwaway PostgreSQL servers for tests: initdb + pg_ctl into a temporary folder.

Used when no server answers on 127.0.0.1:5432 and by tests that must kill a server
(never the machine's shared one). initdb refuses to run as root, so as root the
server runs as the unprivileged `postgres` user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.ports import ReservedPort

_BIN_CANDIDATES = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
                   "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/14/bin")


def postgres_bin() -> Path:
    for candidate in _BIN_CANDIDATES:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                       "install postgresql or set CARTRIDGE_TEST_POSTGRES_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@dataclass
class ThrowawayServer:
    datadir: Path
    port: int
    superuser_password: str | None = None
    _started: bool = field(default=False, repr=False)
    _reserved: ReservedPort | None = field(default=None, repr=False)

    @property
    def admin_url(self) -> str:
        secret = f":{self.superuser_password}" if self.superuser_password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = "postgres" if os.geteuid() == 0 else None
        return subprocess.run([str(postgres_bin() / args[0]), *args[1:]], user=user,
                              check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        """Start the server; the first start moves to another free port if the one picked
        was taken meanwhile (a port picked free is free only at that moment)."""
        if self._reserved is not None:  # restart on the port held since the stop
            self._reserved.release()
            self._reserved = None
        logfile = self.datadir / "server.log"
        deadline = time.monotonic() + 60
        while True:  # right after a kill -9, orphaned backends may hold shared memory briefly
            logged = logfile.stat().st_size if logfile.exists() else 0
            options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.datadir}"
            result = self._run("pg_ctl", "-D", str(self.datadir / "data"), "-o", options,
                               "-l", str(logfile), "-w", "start", check=False)
            if result.returncode == 0:
                self._started = True
                return
            with logfile.open(errors="replace") as log:
                log.seek(logged)
                new_lines = log.read()
            if not self._started and "Address already in use" in new_lines:
                self.port = free_port()
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{new_lines[-2000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop at once; the port stays reserved (refusing connections) until `start`."""
        self._pg_ctl_stop()
        self._reserve_port()

    def _pg_ctl_stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir / "data"), "-m", "immediate", "stop",
                  check=False)

    def kill9(self) -> None:
        """SIGKILL the postmaster and every backend: a crash, as if the machine died.
        Returns once they are gone; the port stays reserved until `start`."""
        pid = int((self.datadir / "data" / "postmaster.pid").read_text().split()[0])
        children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                    and _parent(int(p.name)) == pid]
        for victim in [pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _alive(pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"postmaster {pid} still alive 30 s after SIGKILL")
            time.sleep(0.05)
        self._reserve_port()

    def _reserve_port(self) -> None:
        if self._reserved is None:
            self._reserved = ReservedPort(self.port)

    def destroy(self) -> None:
        self._pg_ctl_stop()
        if self._reserved is not None:
            self._reserved.release()
            self._reserved = None
        shutil.rmtree(self.datadir, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Running (a zombie has closed its sockets already)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def start_throwaway_server(superuser_password: str | None = None) -> ThrowawayServer:
    """A fresh cluster on a free port; with a password, TCP logins need it (scram)."""
    datadir = Path(tempfile.mkdtemp(prefix="cartridge-pg-"))
    datadir.chmod(0o755)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(datadir, entry.pw_uid, entry.pw_gid)
    server = ThrowawayServer(datadir, free_port(), superuser_password)
    args = ["initdb", "-D", str(datadir / "data"), "-U", "postgres", "-N", "--auth-local=trust",
            "--encoding=UTF8", "--locale=C"]  # as production databases are; not SQL_ASCII
    if superuser_password:
        pwfile = datadir / "pwfile"
        pwfile.write_text(superuser_password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        args += ["--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    else:
        args += ["--auth-host=trust"]
    server._run(*args)
    server.start()
    return server
