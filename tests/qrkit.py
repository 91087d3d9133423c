"""Shared by the QR test modules: a small registry, a real QR reader, posting a form like a browser.

Import the `place` fixture into a test module with `from tests.qrkit import place  # noqa: F401`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import time
from dataclasses import dataclass
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from questionnaires.loader import load_file
from survey.citizen import tickets
from survey.db import get_session
from survey.models import Field, Procedure, Response
from survey.qr import credentials
from survey.registry import units
from tests.conftest import FormPage
from tests.formdata import answers_for, post_body

QUICK = load_file("questionnaires/counter-quick.yaml")
BASE = "https://hailong.example.gov.vn"


@dataclass
class Place:
    """What the tests act on; ids rather than ORM objects, since every request has its own session."""

    province_id: int
    commune_id: int
    single_code: str  # counter serving one field (dat-dai)
    single_id: int
    multi_code: str  # counter serving two fields
    multi_id: int
    key_id: str
    api_key: str
    secret: str
    field_ids: dict[str, int]
    procedure_ids: dict[str, int]


@pytest.fixture
def place(app) -> Place:
    with app.app_context():
        session = get_session()
        units.load_fields(session)
        units.load_procedures(session)
        fields = {f.code: f for f in session.scalars(select(Field))}
        province = units.add_unit(session, "33", "Tỉnh Hưng Yên", "province")
        commune = units.add_unit(session, "11953", "Phường Phố Hiến", "ward", province)
        single = units.add_counter(session, commune, "MC1", "Quầy 1 – Đất đai", "counter-quick", [fields["dat-dai"]])
        multi = units.add_counter(session, commune, "MC2", "Quầy 2 – Tư pháp", "counter-quick",
                                     [fields["tu-phap-ho-tich"], fields["chung-thuc"]])
        credential, api_key = credentials.issue(session, commune)
        session.commit()
        return Place(
            province.id, commune.id, single.public_code, single.id, multi.public_code, multi.id,
            credential.key_id, api_key, credential.hmac_secret,
            {code: f.id for code, f in fields.items()},
            {p.code: p.id for p in session.scalars(select(Procedure))},
        )


def offline_link(key_id: str, secret: str, dossier: str, field: str, procedure: str, completed: date) -> str:
    """The per-dossier path computed exactly as the README tells a one-stop software vendor."""
    message = f"1|{key_id}|{dossier}|{field}|{procedure}|{completed:%Y%m%d}"
    payload = base64.urlsafe_b64encode(message.encode("utf-8")).rstrip(b"=").decode("ascii")
    digest = hmac.new(secret.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(digest[:12]).rstrip(b"=").decode("ascii")
    return f"/d/{payload}.{sig}"


def decode_image(image: Image.Image) -> list[str]:
    """Every QR code a real reader (zbar) finds in the image."""
    from pyzbar.pyzbar import ZBarSymbol, decode

    return [d.data.decode() for d in decode(image.convert("L"), symbols=[ZBarSymbol.QRCODE])]


def decode_png(data: bytes) -> list[str]:
    return decode_image(Image.open(io.BytesIO(data)))


def pdf_pages(data: bytes, scale: float = 2.0) -> list[Image.Image]:
    """Rasterise a PDF as a printer would (PDFium)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[i].render(scale=scale).to_pil() for i in range(len(pdf))]
    finally:
        pdf.close()


def decode_svg(svg: str) -> list[str]:
    """Render the SVG with an independent engine (WeasyPrint's SVG renderer, then PDFium) and read it."""
    from weasyprint import HTML

    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    pdf = HTML(string=f'<style>@page{{size:80mm;margin:5mm}}</style><img src="{src}" style="width:70mm">').write_pdf()
    return decode_image(pdf_pages(pdf)[0])


def path_of(url: str) -> str:
    assert url.startswith("http"), url
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def aged_ticket(client, url: str, seconds: int) -> str:
    """A form ticket for `url` as if the form had been rendered `seconds` ago (signed with the
    test app's key, as the server would have)."""
    path = path_of(url) if url.startswith("http") else url
    with client.application.app_context():
        return tickets.issue(path.split("?", 1)[0], int(time.time() * 1000) - seconds * 1000)


def submit(client, url: str, choose: int = 4, **extra: str):
    """Open the form at `url` and send a complete, valid answer set."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    form = FormPage(page.get_data(as_text=True))
    form.hidden["submission_id"] = aged_ticket(client, url, seconds=90)  # a person takes a while: not a speeder
    body = MultiDict(post_body(form.hidden, answers_for(QUICK, choose=choose)))
    for key, value in extra.items():
        body.add(key, value)
    return client.post(url, data=body)


def responses(app) -> list[Response]:
    with app.app_context():
        session = get_session()
        rows = list(session.scalars(select(Response).order_by(Response.id)))
        for r in rows:
            _ = r.flags
        return rows


def tag_lines(html: str) -> list[str]:
    block = re.search(r'<ul class="tags">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []
