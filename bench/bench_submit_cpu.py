"""CPU time of one submit inside the WSGI app, without a server or a network in the way.

    python -m bench.bench_submit_cpu [--n 400]

Fetches n forms through the app (each with its own CSRF token, session cookie and
submission id), then posts each once straight into the WSGI callable and prints CPU and
wall milliseconds per submit (SQLite, one thread, so every submit commits alone). The figure
the README quotes for the submit path before and after reading posts without WTForms.
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from urllib.parse import urlencode

from .common import database, machine

from questionnaires.loader import load_file
from . import loadgen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    print(machine())
    with database("sqlite") as (url, instance), tempfile.TemporaryDirectory():
        loadgen.prepare_database(url, instance)
        from survey import create_app

        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        questionnaire = load_file(loadgen.ROOT / "questionnaires" / "sipas-2017.yaml")
        posts = []
        for k in range(args.n):
            client = app.test_client()  # one citizen per submit: their own session and device
            fields = loadgen.hidden_fields(client.get(loadgen.FORM_PATH).get_data(as_text=True))
            body = urlencode(list(fields.items()) + loadgen.random_answers(questionnaire, random.Random(k))[0]).encode()
            cookies = "; ".join(f"{name}={client.get_cookie(name).value}" for name in ("session", "sipas_device"))
            posts.append((cookies, body))

        def start_response(status: str, headers: list, exc_info: object = None) -> None:
            assert status.startswith("303"), status

        cpu, wall = time.process_time(), time.perf_counter()
        for cookie, body in posts:
            environ = {
                "REQUEST_METHOD": "POST", "PATH_INFO": loadgen.FORM_PATH, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
                "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                "CONTENT_TYPE": "application/x-www-form-urlencoded", "HTTP_HOST": "127.0.0.1", "HTTP_COOKIE": cookie,
            }
            for _ in app(environ, start_response):
                pass
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{args.n} submits into the WSGI app (SQLite, one thread): "
          f"{cpu / args.n * 1000:.2f} ms CPU and {wall / args.n * 1000:.2f} ms wall each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
