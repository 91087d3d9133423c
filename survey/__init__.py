"""The SIPAS web application: create_app wires configuration, extensions and blueprints."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("SURVEY_INSTANCE_PATH", str(ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    _private_folder(Path(app.instance_path))
    app.config.from_mapping(
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'survey.sqlite3'}",
        MAX_CONTENT_LENGTH=64 * 1024,  # a filled form is a few KB; anything bigger is refused with 413
        WTF_CSRF_TIME_LIMIT=24 * 3600,  # a citizen may leave the form open for a long time
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        PUBLIC_BASE_URL=None,  # e.g. https://hailong.example.gov.vn; required for links made in a request (see qr.codes)
        DOSSIER_LINK_DAYS=30,
        DOSSIER_QUESTIONNAIRE="counter-quick",  # what a receipt's QR opens
        QUESTIONNAIRE_DIR=str(ROOT / "questionnaires"),
    )
    from . import compress, db, errors, i18n, security

    if test_config is None:
        app.config.from_prefixed_env("SURVEY")
        security.keys_from_environment(app)
        security.check_keys(app.config)
    else:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))

    db.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    compress.init_app(app)
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True

    from .citizen import views as citizen
    from .commands import analysis as analysis_cli
    from .commands import core as core_cli
    from .commands import registry as registry_cli
    from .ops import health
    from .qr import api
    from .commands import users as users_cli
    from .staff import auth as staff_auth
    from .staff import registry_pages as staff_registry
    from .staff import published as _staff_published  # noqa: F401  (its routes join the reports blueprint)
    from .staff import microdata as _staff_microdata  # noqa: F401  (its routes join the reports blueprint)
    from .staff import reports as staff_reports
    from .staff import views as staff
    from .sampling import entry_views as sampling_entry
    from .sampling import views as sampling_pages
    from .commands import sampling as sampling_cli
    from .commands import estimates as _estimates_cli  # noqa: F401  (adds `sample estimate`)

    app.register_blueprint(citizen.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    staff_auth.init_app(app)
    app.register_blueprint(staff.bp)
    app.register_blueprint(staff_registry.bp)
    app.register_blueprint(staff_reports.bp)
    users_cli.init_app(app)
    core_cli.init_app(app)
    registry_cli.init_app(app)
    analysis_cli.init_app(app)
    app.register_blueprint(sampling_pages.bp)
    app.register_blueprint(sampling_entry.bp)
    sampling_cli.init_app(app)
    return app


def _instance_secret(instance: Path) -> str:
    """A per-installation secret kept in instance/, so every worker on the machine shares it.
    Several machines must set SURVEY_SECRET_KEY to the same value instead."""
    path = instance / "secret_key"
    if not path.exists():
        # Workers start together: write aside, then link into place (atomic, fails if another
        # worker won), so every worker reads the same complete secret.
        tmp = instance / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, not even briefly
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _private_folder(path: Path) -> None:
    """instance/ holds the database, the secret key and backups: readable by the service user only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o700)
        except PermissionError:  # not ours (e.g. a read-only mount): leave it, the operator decides
            pass
