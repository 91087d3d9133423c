"""CLI messages for civil servants: Vietnamese first, English when the locale asks for it.

The command line has no request to negotiate a language with, so it follows the POSIX
locale variables in their order of precedence (LC_ALL, LC_MESSAGES, LANG): a value starting
with 'en' gives English, anything else (or nothing) Vietnamese. Errors stay one line either way.
Commands write `say(vi, en)`; the groups are `SpeakingGroup`s, so what domain functions say with
`_()` (row reasons, refusals) comes out in the same language.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from flask.cli import AppGroup

from ..i18n import VIETNAM, outside_request


def cli_language() -> str:
    """'en' when the first set locale variable names English, otherwise 'vi'."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "en" if value.lower().startswith("en") else "vi"
    return "vi"


T = TypeVar("T")


@contextmanager
def speaking() -> Iterator[None]:
    """`_()` in domain code speaks the CLI's language within the block."""
    with outside_request(cli_language()):
        yield


class SpeakingGroup(AppGroup):
    """A command group whose commands run inside `speaking()`. Not for groups that write
    documents for citizens or field teams (posters, fieldwork lists): those stay Vietnamese."""

    def invoke(self, ctx: click.Context) -> Any:
        with speaking():
            return super().invoke(ctx)


def say(vi: T, en: T) -> T:
    """The message in the CLI's language (see cli_language)."""
    return en if cli_language() == "en" else vi


def no_base_url() -> str:
    """The refusal when no public address is known: what to set."""
    return say("chưa có địa chỉ công khai: đặt SURVEY_PUBLIC_BASE_URL (hoặc dùng --base) là địa chỉ người dân sẽ mở",
               "set SURVEY_PUBLIC_BASE_URL (or pass --base) to the address citizens will use")


def vietnam_time(value: datetime | None) -> str:
    """An instant in Vietnam time with its offset, ISO 8601: '2026-11-30T10:32:05+07:00' (naive = UTC)."""
    if value is None:
        return ""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(VIETNAM).isoformat(timespec="seconds")
