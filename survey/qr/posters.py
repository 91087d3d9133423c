"""Printable counter posters (A4 or A6, one counter per page) as one PDF for a unit subtree.

The pages are laid out in chunks so long batches can report progress, then written as a
single PDF. WeasyPrint is imported only here, inside the functions: the web app never pays
for it at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import Counter, Unit
from ..registry.counters import field_name
from .codes import counter_url, qr_svg


@dataclass(frozen=True)
class Size:
    page: str
    width: str
    height: str
    pad: str
    qr: str
    big: str
    small: str
    tiny: str


# A6 (a card on the counter): a 70 mm code scans from well over a metre away.
SIZES = {
    "a6": Size("A6", "105mm", "148mm", "7mm 5mm 5mm", "72mm", "11.5pt", "9pt", "7pt"),
    "a4": Size("A4", "210mm", "297mm", "16mm 12mm 12mm", "145mm", "23pt", "17pt", "12pt"),
}


@dataclass(frozen=True)
class Poster:
    unit_name: str
    counter_name: str
    fields: tuple[str, ...]
    url: str

    @property
    def qr_svg(self) -> str:
        return qr_svg(self.url)

    @property
    def typed_url(self) -> str:
        """The address as a person types it: browsers add the scheme themselves."""
        return self.url.split("://", 1)[-1]


def counters_under(session: Session, unit: Unit) -> list[Counter]:
    """Active counters of the unit and every unit below it, in tree order."""
    return list(session.scalars(
        select(Counter).join(Unit)
        .where(Unit.path.startswith(unit.path), Unit.active.is_(True), Counter.active.is_(True))
        .options(selectinload(Counter.fields), selectinload(Counter.unit))
        .order_by(Unit.path, Counter.code)
    ))


def poster_for(counter: Counter, base: str | None = None) -> Poster:
    return Poster(counter.unit.name, counter.name, tuple(field_name(f, "vi") for f in counter.fields),
                  counter_url(counter.public_code, base))


def poster_html(posters: list[Poster], size: str) -> str:
    return render_template("print/poster.html", posters=posters, size=SIZES[size])


def write_pdf(posters: list[Poster], size: str, target: str | Path | IO[bytes],
              progress: Callable[[int], None] | None = None, chunk: int = 50) -> int:
    """Lay out the posters `chunk` at a time (calling progress(n) after each), then write one PDF.
    Returns the number of pages."""
    from weasyprint import HTML  # slow to import; only printing needs it

    documents = []
    for start in range(0, len(posters), chunk):
        part = posters[start:start + chunk]
        documents.append(HTML(string=poster_html(part, size)).render())
        if progress:
            progress(len(part))
    if not documents:
        raise ValueError("no posters to print")
    pages = [page for doc in documents for page in doc.pages]
    documents[0].copy(pages).write_pdf(target)
    return len(pages)
