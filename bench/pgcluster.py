"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temporary
directory, listening on a free loopback port only.

PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user that
Debian's package creates. `PostgresCluster.find()` returns None when no server binaries are
installed; callers decide whether that is a skip or a failure.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# Durable defaults; tests pass fast=True (fsync off): they kill app servers, never the OS.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_bindir() -> Path | None:
    """Where initdb lives: pg_config's answer, else Debian's versioned directories (newest first)."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name), reverse=True)
    return candidates[0].parent if candidates else None


class PostgresCluster:
    """One cluster; `url(dbname)` gives a psycopg 3 URL with trust auth over TCP loopback."""

    def __init__(self, bindir: Path, fast: bool = False) -> None:
        self.bindir = bindir
        self.fast = fast
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' user to run PostgreSQL as") from None
            self.user = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="sipas-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self.user:
            shutil.chown(self.root, self.user)

    @classmethod
    def find(cls, fast: bool = False) -> PostgresCluster | None:
        bindir = find_bindir()
        return cls(bindir, fast) if bindir else None

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]], user=self.user, capture_output=True, text=True,
            timeout=timeout, cwd=self.root,
        )

    def start(self) -> PostgresCluster:
        out = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync")
        if out.returncode:
            raise RuntimeError(f"initdb failed: {out.stderr.strip()}")
        opts = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.root}",
                "-c max_connections=200", "-c shared_buffers=128MB"]
        opts += [f"-c {s}" for s in FAST_SETTINGS] if self.fast else []
        out = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", " ".join(opts), "-w", "-t", "60", "start")
        if out.returncode:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {out.stderr.strip()} {log[-2000:]}")
        return self

    def stop(self) -> None:
        """Stop immediately and delete the files: nothing of a throwaway cluster is worth a checkpoint."""
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def wait_for_port(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False
