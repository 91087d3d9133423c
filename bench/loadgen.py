"""Load generation against a real gunicorn on loopback: the code behind bench/load_test.py,
bench/crash_test.py, bench/bench_submit.py and tests/ops/test_load.py.

A client does what a citizen's browser does: GET the form (gzip), read the hidden fields
and the session cookie, POST a complete random answer set, and count the submission as
acknowledged only on the 303 to the thank-you page. Every run is bounded by a number of
submissions and a wall-clock deadline; traffic never leaves 127.0.0.1.
"""
from __future__ import annotations

import gzip
import http.client
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import text
from .pgcluster import free_port

from questionnaires.loader import Questionnaire, load_file
from survey.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FORM_PATH = "/q/sipas-2017"
HIDDEN = re.compile(r'<input[^>]*?name="(csrf_token|submission_id|started|lang|v)"[^>]*?value="([^"]*)"')
HIDDEN_REVERSED = re.compile(r'<input[^>]*?value="([^"]*)"[^>]*?name="(csrf_token|submission_id|started|lang|v)"')


def server_env(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SURVEY_", "GUNICORN_", "WEB_CONCURRENCY"))}
    env.update(SURVEY_DATABASE_URL=database_url, SURVEY_INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT), **extra)
    return env


def prepare_database(database_url: str, instance: Path) -> None:
    """What setup runs on a new installation: migrate, then publish the bundled questionnaires."""
    env = server_env(database_url, instance)
    for args in (["db", "upgrade"], ["questionnaire", "publish"]):
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)


class Server:
    """gunicorn in its own process group, so SIGKILL reaches the master and every worker."""

    def __init__(self, database_url: str, instance: Path, workers: int = 2, threads: int = 4,
                 port: int | None = None, log: Path | None = None, app: str | None = None) -> None:
        self.database_url = database_url
        self.app = app  # another WSGI app than wsgi:app (bench/bare_app.py)
        self.instance = instance
        self.workers = workers
        self.threads = threads
        self.port = port or free_port()
        self.log = log or instance / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: float = 30, expect_healthy: bool = True) -> Server:
        env = server_env(self.database_url, self.instance, BIND=f"127.0.0.1:{self.port}",
                         WEB_CONCURRENCY=str(self.workers), GUNICORN_THREADS=str(self.threads))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), *([self.app] if self.app else [])],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log}")
            status = health(self.port)
            if status == 200 or (status is not None and not expect_healthy):
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn did not answer /healthz within {wait} s; see {self.log}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (master and workers) and reap the master."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if sig == signal.SIGKILL:
            # Workers are in the group too; make sure none survives its master.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def worker_pids(self) -> set[int]:
        if self.proc is None:
            return set()
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.kill(signal.SIGKILL)


def health(port: int, timeout: float = 2) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


# Clients ------------------------------------------------------------------------------


def random_answers(q: Questionnaire, rng: random.Random) -> tuple[list[tuple[str, str]], int]:
    """A complete answer set (as form pairs) and the number of answer rows it must store."""
    chosen: dict[str, object] = {}
    pairs: list[tuple[str, str]] = []
    rows = 0
    for item in q.items:
        if item.show_if is not None and not item.show_if.holds(chosen):
            continue
        if item.type in ("satisfaction", "single"):
            value: object = rng.choice(sorted(item.valid_codes))
            pairs.append((item.key, str(value)))
            rows += 1
        elif item.type == "multiple":
            codes = sorted(rng.sample(sorted(item.valid_codes), k=min(2, len(item.valid_codes))))
            value = codes
            pairs.extend((item.key, str(c)) for c in codes)
            rows += len(codes)
        elif item.type == "number":
            value = rng.randint(item.min, item.max)
            pairs.append((item.key, str(value)))
            rows += 1
        elif item.required or rng.random() < 0.1:
            value = "Cán bộ nhiệt tình, hướng dẫn rõ ràng."
            pairs.append((item.key, value))
            rows += 1
        else:
            continue
        chosen[item.key] = value
    return pairs, rows


@dataclass
class Result:
    """What a run saw from the client side."""

    acked: dict[str, int] = field(default_factory=dict)  # submission_id → answer rows it must have
    sent: dict[str, int] = field(default_factory=dict)  # every submission_id POSTed at least once → its answer rows
    statuses: Counter = field(default_factory=Counter)  # "GET 200", "POST 303", "POST error", …
    errors: list[str] = field(default_factory=list)
    post_latency: list[float] = field(default_factory=list)  # seconds, POST → 303
    total_latency: list[float] = field(default_factory=list)  # seconds, from due time to 303 (open loop)
    started: float = 0.0
    elapsed: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, key: str, error: str | None = None) -> None:
        with self.lock:
            self.statuses[key] += 1
            if error and len(self.errors) < 20:
                self.errors.append(error)

    @property
    def server_errors(self) -> int:
        return sum(n for k, n in self.statuses.items() if k.split()[1].startswith("5"))

    @property
    def rate(self) -> float:
        return len(self.acked) / self.elapsed if self.elapsed else 0.0

    def summary(self) -> str:
        return (f"{len(self.acked):,} acknowledged in {self.elapsed:.1f} s ({self.rate:,.0f}/s); "
                f"statuses {dict(sorted(self.statuses.items()))}")


class Browser:
    """One citizen's browser: a keep-alive connection and a cookie jar."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Accept-Encoding": "gzip", "User-Agent": "sipas-loadgen"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        reused = self.conn is not None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()
            if not reused:
                raise
            # The server closed an idle keep-alive connection as we reused it: try once on a
            # new one, as browsers and urllib3 do (a repeated POST is safe: idempotency key).
            return self.request(method, path, body)
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                cookie = value.split(";", 1)[0]
                k, _, v = cookie.partition("=")
                self.cookies[k.strip()] = v.strip()
        if resp.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        if resp.will_close:
            self.close()
        return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def hidden_fields(html: str) -> dict[str, str]:
    fields = dict(HIDDEN.findall(html))
    for value, name in HIDDEN_REVERSED.findall(html):
        fields.setdefault(name, value)
    return fields


class Submitter:
    """GET + POST one submission; retries the same POST (same submission id) on connection
    errors when asked, as a citizen tapping "Gửi phiếu" again would."""

    def __init__(self, port: int, questionnaire: Questionnaire, result: Result, seed: int,
                 retry_until: float = 0.0) -> None:
        self.browser = Browser(port)
        self.q = questionnaire
        self.result = result
        self.rng = random.Random(seed)
        self.retry_until = retry_until

    def one(self, due: float | None = None) -> bool:
        self.browser.cookies.clear()  # each submission is another citizen, with their own phone
        got = self._send("GET")
        if got is None or got[0] != 200:
            return False
        fields = hidden_fields(got[1].decode())
        answers, rows = random_answers(self.q, self.rng)
        body = urlencode(list(fields.items()) + answers)
        key = fields.get("submission_id", "")
        with self.result.lock:
            self.result.sent[key] = rows
        sent = self._send("POST", body)
        if sent is None:
            return False
        status, _, headers, t0, t1 = sent
        if status == 303 and headers.get("location", "").endswith("/cam-on"):
            with self.result.lock:
                self.result.acked[key] = rows
                self.result.post_latency.append(t1 - t0)
                if due is not None:
                    self.result.total_latency.append(t1 - due)
            return True
        return False

    def _send(self, method: str, body: str | None = None) -> tuple[int, bytes, dict[str, str], float, float] | None:
        """(status, page, headers, start, end of the last attempt) of one request to the form, tried
        again every 0.2 s while the server is down or restarting (a connection error, 502, 503) until
        retry_until; None when it gave up on a connection error. Every attempt is recorded."""
        while True:
            t0 = time.monotonic()
            try:
                status, page, headers = self.browser.request(method, FORM_PATH, body)
            except (OSError, http.client.HTTPException) as exc:
                self.result.record(f"{method} error", f"{method}: {exc!r}")
                if time.monotonic() < self.retry_until:
                    time.sleep(0.2)
                    continue
                return None
            t1 = time.monotonic()
            self.result.record(f"{method} {status}")
            if status in (502, 503) and time.monotonic() < self.retry_until:
                time.sleep(0.2)
                continue
            return status, page, headers, t0, t1


def run_closed(port: int, total: int, clients: int, deadline_s: float, seed: int = 1,
               retry_until: float = 0.0, result: Result | None = None, stop: threading.Event | None = None) -> Result:
    """`clients` threads submit back to back until `total` are attempted or the deadline passes."""
    q = load_file(ROOT / "questionnaires" / "sipas-2017.yaml")
    result = result or Result()
    tickets = itertools.count()
    deadline = time.monotonic() + deadline_s
    stop = stop or threading.Event()

    def work(n: int) -> None:
        sub = Submitter(port, q, result, seed * 1000 + n, retry_until=retry_until)
        while not stop.is_set() and time.monotonic() < deadline and next(tickets) < total:
            sub.one()
        sub.browser.close()

    result.started = time.monotonic()
    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 90)
    result.elapsed = time.monotonic() - result.started
    return result


def run_open(port: int, rate: float, duration_s: float, pool: int = 64, seed: int = 2) -> Result:
    """Open loop: submissions are due at a fixed rate whatever the server does, so a slow
    answer delays nothing behind it and latency counts from the due time (no coordinated
    omission). Bounded by duration_s plus a drain of at most 60 s."""
    q = load_file(ROOT / "questionnaires" / "sipas-2017.yaml")
    result = Result()
    total = int(rate * duration_s)
    start = time.monotonic() + 0.5
    dues = iter(start + i / rate for i in range(total))
    lock = threading.Lock()
    hard_stop = start + duration_s + 60

    def work(n: int) -> None:
        sub = Submitter(port, q, result, seed * 1000 + n)
        while time.monotonic() < hard_stop:
            with lock:
                due = next(dues, None)
            if due is None:
                break
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sub.one(due)
        sub.browser.close()

    result.started = start
    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(pool)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, hard_stop - time.monotonic()) + 5)
    result.elapsed = time.monotonic() - start
    return result


# Checks on the stored data --------------------------------------------------------------


@dataclass
class Audit:
    responses: int
    keys: int
    missing: list[str]  # acknowledged but not stored: must be empty
    wrong_answers: list[str]  # stored with another number of answer rows than posted: must be empty
    orphans: int  # responses without an idempotency key (not written by this path)
    empty: int  # responses without any answer row
    stored_sent: int  # how many of the sent submissions are stored


def audit(database_url: str, result: Result) -> Audit:
    """Compare what clients were told with what the database holds."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            keys = dict(conn.execute(text("SELECT key, response_id FROM idempotency_keys")).all())
            per_response = dict(conn.execute(text("SELECT response_id, count(*) FROM answers GROUP BY response_id")).all())
            responses = conn.execute(text("SELECT count(*) FROM responses")).scalar_one()
            orphans = conn.execute(text(
                "SELECT count(*) FROM responses r WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.response_id = r.id)"
            )).scalar_one()
            empty = conn.execute(text(
                "SELECT count(*) FROM responses r WHERE NOT EXISTS (SELECT 1 FROM answers a WHERE a.response_id = r.id)"
            )).scalar_one()
    finally:
        engine.dispose()
    missing = [k for k in result.acked if k not in keys]
    wrong = [k for k, rows in result.sent.items() if k in keys and per_response.get(keys[k], 0) != rows]
    return Audit(responses, len(keys), missing, wrong, orphans, empty, sum(1 for k in result.sent if k in keys))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class CrashReport:
    kills: list[tuple[Result, Audit]]  # per SIGKILL: what clients had been told, and the database right after
    final: Result
    audit_final: Audit
    down_seconds: float

    @property
    def before_kill(self) -> Result:
        return self.kills[0][0]

    @property
    def audit_after_kill(self) -> Audit:
        return self.kills[0][1]


def crash_round(database_url: str, instance: Path, total: int, clients: int, kill_after_acked: int | list[int],
                deadline_s: float, workers: int = 2, threads: int = 4, seed: int = 3) -> CrashReport:
    """Load the server, SIGKILL its whole process group mid-load (once per kill point), audit
    the database before anything restarts, restart on the same port and let clients retry
    what got no answer (same submission ids, as a citizen tapping "Gửi phiếu" again)."""
    points = [kill_after_acked] if isinstance(kill_after_acked, int) else list(kill_after_acked)
    server = Server(database_url, instance, workers=workers, threads=threads).start()
    result = Result()
    stop = threading.Event()
    deadline = time.monotonic() + deadline_s
    loader = threading.Thread(target=run_closed, daemon=True, kwargs=dict(
        port=server.port, total=total, clients=clients, deadline_s=deadline_s, seed=seed,
        retry_until=deadline, result=result, stop=stop))
    kills: list[tuple[Result, Audit]] = []
    down = 0.0
    try:
        loader.start()
        for point in points:
            while len(result.acked) < point and time.monotonic() < deadline and loader.is_alive():
                time.sleep(0.01)
            server.kill(signal.SIGKILL)
            killed_at = time.monotonic()
            with result.lock:
                snapshot = Result(acked=dict(result.acked), sent=dict(result.sent), statuses=Counter(result.statuses))
            kills.append((snapshot, audit(database_url, snapshot)))
            time.sleep(0.5)  # clients meet a dead port for a while, as citizens would
            server.start()
            down += time.monotonic() - killed_at
        loader.join(timeout=max(0.0, deadline - time.monotonic()) + 120)
    finally:
        stop.set()
        server.kill(signal.SIGKILL)
    return CrashReport(kills, result, audit(database_url, result), down)
