"""The citizen form under gunicorn (2 workers) beside a bare Flask endpoint, in one run:
requests per second for GET /q/sipas-2017 (gzip, as phones ask), for the submit POST, and
for a bare Flask "ok" (bench/bare_app.py, same gunicorn settings). Then the form page's
weight over the wire with its CSS and JS, and its third-party requests (chromium, if present).

    python -m bench.bench_form [--seconds 5] [--rounds 3] [--connections 20] [--db sqlite|postgresql]

GETs are measured with wrk. Each POST needs its own form (CSRF token, session cookie,
submission id), so forms are fetched first through the real server and wrk posts each
once (Lua script), completed answers included; the rate counts the responses actually
stored. The bare endpoint and the submit are measured in interleaved rounds and the median
share is reported, so a background job slows both alike. wrk runs on the same 2 cores as
the server. Goals: submit ≥ 40 % of the bare
endpoint's rate; the page with CSS and JS ≤ 40 KB; no third-party request.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

from sqlalchemy import text
from .common import database, machine

from questionnaires.loader import load_file
from . import loadgen
from survey.db import make_engine

POST_LUA = r'''
local threads, counter = {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local path, nthreads, n = args[1], tonumber(args[2]), 0
  cookies, bodies, i, wrapped = {}, {}, 0, 0
  for line in io.lines(path) do
    if n % nthreads == id then
      local tab = line:find("\t", 1, true)
      table.insert(cookies, line:sub(1, tab - 1))
      table.insert(bodies, line:sub(tab + 1))
    end
    n = n + 1
  end
end
function request()
  i = i + 1
  if i > #bodies then i, wrapped = 1, wrapped + 1 end
  return wrk.format("POST", nil, {["Cookie"] = cookies[i], ["Content-Type"] = "application/x-www-form-urlencoded"}, bodies[i])
end
function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + tonumber(t:get("wrapped")) end
  io.write(string.format("WRAPPED %d\n", w))
end
'''


def wrk(url: str, seconds: int, connections: int, *options: str, script_args: tuple[str, ...] = ()) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *options, url]
    out = subprocess.run(args + (["--", *script_args] if script_args else []),
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    get = lambda pattern: re.search(pattern, out)  # noqa: E731
    non_ok = get(r"Non-2xx or 3xx responses: (\d+)")
    wrapped = get(r"WRAPPED (\d+)")
    return {
        "rps": float(get(r"Requests/sec:\s+([\d.]+)").group(1)),
        "requests": int(get(r"(\d+) requests in")[1]),
        "p50": get(r"(?m)^\s+50%\s+(\S+)").group(1), "p99": get(r"(?m)^\s+99%\s+(\S+)").group(1),
        "non_2xx_3xx": int(non_ok.group(1)) if non_ok else 0,
        "wrapped": int(wrapped.group(1)) if wrapped else 0,
        "raw": out,
    }


def server_cpu(server: loadgen.Server) -> float:
    """CPU seconds (user + system) used so far by the server's master and workers (Linux)."""
    total = 0.0
    for pid in server.worker_pids() | {server.proc.pid}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def prefetch(port: int, n: int, path: Path, threads: int = 8) -> None:
    """n filled-in forms, one line each: the session cookie, a tab, the urlencoded body."""
    q = load_file(loadgen.ROOT / "questionnaires" / "sipas-2017.yaml")
    lines: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 300

    def work(k: int) -> None:
        rng = random.Random(k)
        while time.monotonic() < deadline:
            with lock:
                if len(lines) >= n:
                    return
            browser = loadgen.Browser(port)
            status, page, _ = browser.request("GET", loadgen.FORM_PATH)
            browser.close()
            fields = loadgen.hidden_fields(page.decode())
            body = urlencode(list(fields.items()) + loadgen.random_answers(q, rng)[0])
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            with lock:
                lines.append(f"{cookie}\t{body}")

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    path.write_text("\n".join(lines[:n]) + "\n")


def page_weight(port: int) -> tuple[int, list[tuple[str, int]]]:
    """Bytes over the wire (headers + gzip body as sent) for the form and what it links."""
    browser = loadgen.Browser(port)
    conn_get = lambda p: _raw_get(port, p)  # noqa: E731
    status, page, _ = browser.request("GET", loadgen.FORM_PATH)
    html = page.decode()
    assets = re.findall(r'<(?:link[^>]+href|script[^>]+src|img[^>]+src)="([^"]+)"', html)
    parts = [(loadgen.FORM_PATH, conn_get(loadgen.FORM_PATH))]
    for asset in assets:
        if urlparse(asset).netloc or asset.startswith("data:"):
            continue  # inline, or another origin (counted as third-party below)
        parts.append((asset, conn_get(asset)))
    browser.close()
    return sum(n for _, n in parts), parts


def _raw_get(port: int, path: str) -> int:
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return len(data)


def third_party(port: int) -> tuple[list[str], str]:
    """Requests to any other origin while a real browser loads and renders the form."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [], "not checked (Playwright missing)"
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        return [], "not checked (chromium missing)"
    seen: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.on("request", lambda r: seen.append(r.url))
        page.goto(f"http://127.0.0.1:{port}{loadgen.FORM_PATH}", wait_until="networkidle")
        browser.close()
    others = [u for u in seen if urlparse(u).netloc != f"127.0.0.1:{port}" and not u.startswith("data:")]
    return others, f"checked with chromium: {len(seen)} requests"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="bare/submit pairs, interleaved")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--ceiling", action="store_true",
                        help="also submit to bench/nowrite_app.py (the write stubbed out) after the rounds")
    args = parser.parse_args()
    print(machine())
    with database(args.db) as (url, instance), tempfile.TemporaryDirectory() as tmp:
        loadgen.prepare_database(url, instance)
        bare = loadgen.Server(url, instance, workers=args.workers, threads=args.threads, app="bench.bare_app:app",
                              log=Path(tmp) / "bare.log")
        with bare, loadgen.Server(url, instance, workers=args.workers, threads=args.threads) as app:
            form_url = f"{app.base}{loadgen.FORM_PATH}"
            wrk(f"{bare.base}/", 2, args.connections)  # warm-up
            wrk(form_url, 2, args.connections, "-H", "Accept-Encoding: gzip")
            form_r = wrk(form_url, args.seconds, args.connections, "-H", "Accept-Encoding: gzip")
            # Every POST needs a form of its own: fetch enough for every round first.
            per_round = int(max(form_r["rps"] * 6, 400) * args.seconds)
            forms = Path(tmp) / "forms.tsv"
            prefetch(app.port, per_round * args.rounds, forms)
            lines = forms.read_text().splitlines()
            script = Path(tmp) / "post.lua"
            script.write_text(POST_LUA)
            engine = make_engine(url)
            rounds = []
            for r in range(args.rounds):
                cpu = server_cpu(bare)
                bare_r = wrk(f"{bare.base}/", args.seconds, args.connections)
                bare_r["cpu_ms"] = (server_cpu(bare) - cpu) / bare_r["requests"] * 1000
                chunk = Path(tmp) / f"forms{r}.tsv"
                chunk.write_text("\n".join(lines[r * per_round:(r + 1) * per_round]) + "\n")
                with engine.connect() as conn:
                    before = conn.execute(text("SELECT count(*) FROM responses")).scalar_one()
                cpu = server_cpu(app)
                post_r = wrk(form_url, args.seconds, args.connections, "-s", str(script), script_args=(str(chunk), "2"))
                post_r["cpu_ms"] = (server_cpu(app) - cpu) / max(post_r["requests"], 1) * 1000
                with engine.connect() as conn:
                    stored = conn.execute(text("SELECT count(*) FROM responses")).scalar_one() - before
                rounds.append((bare_r, post_r, stored))
                print(f"  round {r + 1}: bare {bare_r['rps']:,.0f} req/s ({bare_r['cpu_ms']:.2f} ms server CPU each), "
                      f"submit {stored / args.seconds:,.0f}/s ({post_r['cpu_ms']:.2f} ms each): "
                      f"{stored / args.seconds / bare_r['rps']:.0%}", flush=True)
            engine.dispose()
            ceiling = None
            if args.ceiling:
                with loadgen.Server(url, instance, workers=args.workers, threads=args.threads, app="bench.nowrite_app:app",
                                    log=Path(tmp) / "nowrite.log") as nowrite:
                    chunk = Path(tmp) / "forms-ceiling.tsv"
                    chunk.write_text("\n".join(lines[:per_round]) + "\n")
                    cpu = server_cpu(nowrite)
                    ceiling = wrk(f"{nowrite.base}{loadgen.FORM_PATH}", args.seconds, args.connections, "-s", str(script),
                                  script_args=(str(chunk), "2"))
                    ceiling["cpu_ms"] = (server_cpu(nowrite) - cpu) / max(ceiling["requests"], 1) * 1000
            weight, parts = page_weight(app.port)
            others, how = third_party(app.port)
    ratios = sorted(stored / args.seconds / b["rps"] for b, _, stored in rounds)
    bare_rps = statistics.median(b["rps"] for b, _, _ in rounds)
    submit_rps = statistics.median(stored / args.seconds for _, _, stored in rounds)
    ratio = statistics.median(ratios)
    last_bare, last_post, _ = rounds[-1]
    print(f"\nunder gunicorn, {args.workers} workers × {args.threads} threads, {args.db}, wrk -t2 -c{args.connections}, "
          f"{args.rounds} interleaved rounds of {args.seconds:g} s (medians):")
    bare_cpu = statistics.median(b["cpu_ms"] for b, _, _ in rounds)
    submit_cpu = statistics.median(p["cpu_ms"] for _, p, _ in rounds)
    print(f"  bare Flask endpoint   {bare_rps:>8,.0f} req/s  p50 {last_bare['p50']:>8} p99 {last_bare['p99']:>8}  "
          f"server CPU {bare_cpu:.2f} ms/request")
    print(f"  GET form (gzip)       {form_r['rps']:>8,.0f} req/s  p50 {form_r['p50']:>8} p99 {form_r['p99']:>8}  "
          f"({form_r['rps'] / bare_rps:.0%} of bare)")
    print(f"  POST submit           {submit_rps:>8,.0f} req/s  p50 {last_post['p50']:>8} p99 {last_post['p99']:>8}  "
          f"({ratio:.0%} of bare, rounds {', '.join(f'{x:.0%}' for x in ratios)}; goal ≥ 40%)  "
          f"server CPU {submit_cpu:.2f} ms/request")
    if ceiling:
        print(f"  POST, write stubbed   {ceiling['rps']:>8,.0f} req/s  p50 {ceiling['p50']:>8} p99 {ceiling['p99']:>8}  "
              f"({ceiling['rps'] / bare_rps:.0%} of bare: the ceiling without a database)  "
              f"server CPU {ceiling['cpu_ms']:.2f} ms/request")
    stored_all = sum(s for _, _, s in rounds)
    posts_all = sum(p["requests"] for _, p, _ in rounds)
    wrapped = sum(p["wrapped"] for _, p, _ in rounds)
    errors = sum(p["non_2xx_3xx"] + b["non_2xx_3xx"] for b, p, _ in rounds) + form_r["non_2xx_3xx"]
    print(f"    {stored_all:,} responses stored from {posts_all:,} POSTs; forms reused: {wrapped}; non-2xx/3xx: {errors}")
    print(f"  form page over the wire: {weight / 1024:.1f} KB (goal ≤ 40 KB): " + ", ".join(f"{p} {n / 1024:.1f} KB" for p, n in parts))
    print(f"  third-party requests: {len(others)} ({how}){': ' + ', '.join(others) if others else ''}")
    ok = ratio >= 0.4 and weight <= 40 * 1024 and not others and wrapped == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
