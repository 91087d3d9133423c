"""gunicorn settings for SIPAS: `gunicorn -c gunicorn.conf.py` (the app is wsgi:app).

Environment:
  BIND              address to listen on (default 127.0.0.1:8000; behind nginx keep it local)
  WEB_CONCURRENCY   worker processes (default 2 per core, at most 8)
  GUNICORN_THREADS  threads per worker (default 4): requests wait on the database, not the CPU
  GUNICORN_ACCESS_LOG  "-" for stdout, or a path; off by default (nginx logs requests)
Database and app settings come from SURVEY_* variables (see README).
"""
import os

wsgi_app = "wsgi:app"
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1), 8)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))

# Each worker builds its own app, engine and connection pool after the fork: connections
# are never shared between processes, and a database that is down at start cannot stop
# the master from starting (workers answer 503 until it is back).
preload_app = False

# gthread's timeout is the worker's heartbeat, not a request limit; SQLite writers may
# wait up to busy_timeout (30 s) for the lock, PostgreSQL connects time out after 5 s.
timeout = 60
# SIGTERM (deploy, restart) lets in-flight submissions finish and commit.
graceful_timeout = 30
keepalive = 5
backlog = 2048

# Trust X-Forwarded-Proto from the local reverse proxy only (secure cookies behind TLS).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Heartbeat files in memory: a slow or busy disk must not make the master kill workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "sipas"
# gunicorn's control socket defaults to one path per user: two servers on one machine (a
# second instance, tests, benchmarks) would take it from each other. Off unless asked for.
control_socket_disable = "GUNICORN_CONTROL_SOCKET" not in os.environ
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
