"""Plan targets in the database: loaded from the YAML files once, read by every app server.

Files are validated by analysis.targets (the same rules as the bundled files) before anything
is written; each target is stored as its definition in JSON and re-validated when read, so a
stored target can never be one the loader would refuse. Re-loading a file updates the targets
that changed, leaves the others alone and removes those no longer in it.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.targets import TARGETS_DIR, Target, TargetError, load_targets, parse_targets

from ..models import PlanTarget


@dataclass(frozen=True)
class Change:
    """What loading did to one target: new, updated, unchanged or removed."""

    target_id: str
    file: str
    status: str


def _canonical(raw: dict[str, Any]) -> str:
    """Stable JSON text of one target as written (merge keys resolved), to compare and store."""
    return json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def read_files(paths: Iterable[str | Path]) -> list[tuple[str, list[tuple[Target, str]]]]:
    """Validate target files: [(file name, [(target, definition JSON)])]. Raises TargetError."""
    out: list[tuple[str, list[tuple[Target, str]]]] = []
    seen: dict[str, str] = {}
    for path in map(Path, paths):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark else ""
            raise TargetError(path.name, "(file)", f"not valid YAML: {where}{getattr(exc, 'problem', exc)}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TargetError(path.name, "(file)", f"cannot be read as UTF-8 text: {exc}") from None
        targets = parse_targets(data, path.name)
        for target in targets:
            if target.id in seen:
                raise TargetError(path.name, target.id, f"id already used in {seen[target.id]}")
            seen[target.id] = path.name
        out.append((path.name, [(t, _canonical(raw)) for t, raw in zip(targets, data["targets"])]))
    return out


def bundled_files() -> list[Path]:
    return sorted(TARGETS_DIR.glob("*.yaml"))


def load(session: Session, paths: Sequence[str | Path]) -> list[Change]:
    """Store the targets of the given files (validated first: one bad file stores nothing).

    A target id belongs to one file: the same id in another file is refused, so two plans
    cannot silently overwrite each other's targets.
    """
    files = read_files(paths)
    loading = {name: {t.id for t, _ in targets} for name, targets in files}
    everywhere = set().union(*loading.values()) if loading else set()
    stored = {row.target_id: row for row in session.scalars(select(PlanTarget))}
    for name, targets in files:
        for target, _definition in targets:
            row = stored.get(target.id)
            moved = row is not None and target.id not in loading.get(row.source_file, {target.id})
            if row is not None and row.source_file != name and not moved:
                raise TargetError(name, target.id, f"id already stored from {row.source_file}; ids must be unique across plans")
    now = datetime.now(UTC)
    changes: list[Change] = []
    for name, targets in files:
        for target, definition in targets:
            row = stored.get(target.id)
            if row is None:
                session.add(PlanTarget(target_id=target.id, definition=definition, source_file=name, loaded_at=now))
                changes.append(Change(target.id, name, "new"))
            elif (row.definition, row.source_file) != (definition, name):
                row.definition, row.source_file, row.loaded_at = definition, name, now
                changes.append(Change(target.id, name, "updated"))
            else:
                changes.append(Change(target.id, name, "unchanged"))
    for row in stored.values():
        if row.source_file in loading and row.target_id not in everywhere:
            session.delete(row)
            changes.append(Change(row.target_id, row.source_file, "removed"))
    session.flush()
    return changes


def stored(session: Session) -> list[tuple[Target, PlanTarget]]:
    """Stored targets, validated again, in file then id order."""
    rows = session.scalars(select(PlanTarget).order_by(PlanTarget.source_file, PlanTarget.target_id)).all()
    return [(parse_targets({"targets": [json.loads(row.definition)]}, row.source_file)[0], row) for row in rows]


def report_targets(session: Session) -> tuple[tuple[Target, ...], str]:
    """The targets reports judge against, and a sentence saying where they came from."""
    rows = stored(session)
    if rows:
        latest = max(row.loaded_at for _, row in rows)
        return tuple(t for t, _ in rows), f"{len(rows)} target(s) from the database (plan_targets), last loaded {latest:%d/%m/%Y %H:%M} UTC"
    targets = load_targets()
    return targets, (f"{len(targets)} target(s) from the bundled files targets/*.yaml: the plan_targets table is empty "
                     "(load them with `flask --app wsgi targets load`)")
