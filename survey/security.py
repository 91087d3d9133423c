"""Protections every blueprint shares: the CSRF guard (Flask-WTF) on every state-changing
request; API blueprints exempt themselves and authenticate by key instead."""
from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
