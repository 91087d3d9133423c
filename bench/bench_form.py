"""The citizen form under gunicorn (2 workers) beside a bare Flask endpoint, in one run:
requests per second for GET /q/sipas-2017 (gzip, as phones ask), for the submit POST, and
for a bare Flask "ok" (bench/bare_app.py, same gunicorn settings). Then the form page's
weight over the wire with its CSS and JS, and its third-party requests (chromium, if present).

    python -m bench.bench_form [--seconds 10] [--connections 20] [--db sqlite|postgresql]

GETs are measured with wrk. Each POST needs its own form (CSRF token, session cookie,
submission id), so forms are fetched first through the real server and wrk posts each
once (Lua script), completed answers included; the rate counts the responses actually
stored. wrk runs on the same 2 cores as the server. Goals: submit ≥ 40 % of the bare
endpoint's rate; the page with CSS and JS ≤ 40 KB; no third-party request.
"""
from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

from sqlalchemy import text

from questionnaires.loader import load_file
from survey.db import make_engine

from . import loadgen
from .common import database, machine

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
            fields["started"] = str(int(fields["started"]) - 120_000)
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
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(machine())
    with database(args.db) as (url, instance), tempfile.TemporaryDirectory() as tmp:
        loadgen.prepare_database(url, instance)
        bare = loadgen.Server(url, instance, workers=args.workers, app="bench.bare_app:app", log=Path(tmp) / "bare.log")
        with bare:
            wrk(f"{bare.base}/", 2, args.connections)  # warm-up
            bare_r = wrk(f"{bare.base}/", args.seconds, args.connections)
        with loadgen.Server(url, instance, workers=args.workers) as app:
            form_url = f"{app.base}{loadgen.FORM_PATH}"
            wrk(form_url, 2, args.connections, "-H", "Accept-Encoding: gzip")
            form_r = wrk(form_url, args.seconds, args.connections, "-H", "Accept-Encoding: gzip")
            forms = Path(tmp) / "forms.tsv"
            needed = int(max(form_r["rps"] * 4, 300) * args.seconds)
            prefetch(app.port, needed, forms)
            engine = make_engine(url)
            with engine.connect() as conn:
                before = conn.execute(text("SELECT count(*) FROM responses")).scalar_one()
            script = Path(tmp) / "post.lua"
            script.write_text(POST_LUA)
            post_r = wrk(form_url, args.seconds, args.connections, "-s", str(script), script_args=(str(forms), "2"))
            with engine.connect() as conn:
                stored = conn.execute(text("SELECT count(*) FROM responses")).scalar_one() - before
            engine.dispose()
            weight, parts = page_weight(app.port)
            others, how = third_party(app.port)
    submit_rps = stored / args.seconds
    print(f"\nunder gunicorn, {args.workers} workers × 4 threads, {args.db}, wrk -t2 -c{args.connections} -d{args.seconds:g}s, same run:")
    print(f"  bare Flask endpoint   {bare_r['rps']:>8.0f} req/s  p50 {bare_r['p50']:>8} p99 {bare_r['p99']:>8}")
    print(f"  GET form (gzip)       {form_r['rps']:>8.0f} req/s  p50 {form_r['p50']:>8} p99 {form_r['p99']:>8}  ({form_r['rps'] / bare_r['rps']:.0%} of bare)")
    print(f"  POST submit           {submit_rps:>8.0f} req/s  p50 {post_r['p50']:>8} p99 {post_r['p99']:>8}  ({submit_rps / bare_r['rps']:.0%} of bare; goal ≥ 40%)")
    print(f"    {stored:,} responses stored from {post_r['requests']:,} POSTs; forms reused: {post_r['wrapped']}; "
          f"non-2xx/3xx: {post_r['non_2xx_3xx'] + form_r['non_2xx_3xx'] + bare_r['non_2xx_3xx']}")
    print(f"  form page over the wire: {weight / 1024:.1f} KB (goal ≤ 40 KB): " + ", ".join(f"{p} {n / 1024:.1f} KB" for p, n in parts))
    print(f"  third-party requests: {len(others)} ({how}){': ' + ', '.join(others) if others else ''}")
    ok = submit_rps >= 0.4 * bare_r["rps"] and weight <= 40 * 1024 and not others and post_r["wrapped"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
