"""The yardstick for bench_form.py: a bare Flask endpoint served by the same gunicorn
configuration as SIPAS. Never part of the public app."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def bare():
    return "ok"


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
