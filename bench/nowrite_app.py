"""The ceiling for bench_form.py: SIPAS with the submit's database write replaced by nothing.

Everything else of a submit still runs (session cookie, CSRF check, form parsing, reading and
validating the answers, the redirect), so its rate is what a free, instant database would
allow. Never part of the public app."""
import survey.public

from wsgi import app

survey.citizen.views._store = lambda *args, **kwargs: None

__all__ = ["app"]
