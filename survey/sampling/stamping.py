"""Print thousands of personalised pages fast: lay a page template out ONCE with WeasyPrint (its
empty slots marked `data-slot="name"`), then stamp each person's text and QR code into the slots.

WeasyPrint lays a text-heavy A4 letter out at a few pages a second on this shared machine, so
10,000 letters would take most of an hour; stamping writes each page as a tiny content stream
that draws the shared template (one Form XObject per template page) and the person's values, at
thousands of pages a second. The slot's position, width, font size, weight and alignment come from
WeasyPrint's own layout of the template, so the stamped text sits where the page leaves room.

Text is drawn in DejaVu (the fonts WeasyPrint uses, installed with Debian's fonts-dejavu-core),
embedded once per PDF as subsets that keep their glyph ids, with a ToUnicode map so the text
can be searched and copied. A value too wide for its slot is shrunk down to MIN_SCALE of the
slot's size and only then cut with "…". WeasyPrint and pypdf are imported only when printing.
"""
from __future__ import annotations

import io
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from ..qr.codes import QUIET_ZONE, dark_runs

FONT_FILES = {"regular": "DejaVuSerif.ttf", "bold": "DejaVuSerif-Bold.ttf", "mono": "DejaVuSansMono-Bold.ttf"}
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts"))
PX = 0.75  # one CSS px in PDF points
MIN_SCALE = 0.7


@dataclass(frozen=True)
class Slot:
    name: str
    x: float  # PDF points from the page's left edge
    top: float  # PDF points from the page's top edge
    width: float
    height: float
    size: float  # font size, points
    font: str  # regular | bold | mono
    align: str  # left | center | right


@dataclass(frozen=True)
class TemplatePage:
    width: float
    height: float
    slots: tuple[Slot, ...]


@dataclass
class Template:
    pdf: bytes
    pages: list[TemplatePage]


def _font_path(name: str) -> Path:
    for folder in FONT_DIRS:
        direct = folder / FONT_FILES[name]
        if direct.exists():
            return direct
        found = next(folder.rglob(FONT_FILES[name]), None) if folder.exists() else None
        if found is not None:
            return found
    raise FileNotFoundError(f"{FONT_FILES[name]} is not installed (Debian: apt-get install fonts-dejavu-core)")


def template(html: str) -> Template:
    """Lay the HTML out and find its slots (elements with data-slot). A slot's font is read from
    its style: monospace → mono, weight ≥ 600 → bold."""
    from weasyprint import HTML

    document = HTML(string=html).render()
    pages = []
    for page in document.pages:
        slots = []
        for box in _boxes(page._page_box):  # WeasyPrint's layout tree (pinned version)
            element = getattr(box, "element", None)
            name = element.get("data-slot") if element is not None else None
            if not name or box.element_tag not in ("span", "div", "p", "td"):
                continue
            style = box.style
            families = [f.lower() for f in style["font_family"]]
            font = "mono" if any("mono" in f for f in families) else "bold" if style["font_weight"] >= 600 else "regular"
            align = str(style["text_align_all"]) if str(style["text_align_all"]) in ("center", "right") else "left"
            slots.append(Slot(name, box.content_box_x() * PX, box.content_box_y() * PX, box.width * PX, box.height * PX,
                              style["font_size"] * PX, font, align))
        pages.append(TemplatePage(page.width * PX, page.height * PX, tuple(slots)))
    return Template(document.write_pdf(), pages)


def _boxes(box):
    """Every box below this one, through the placeholders WeasyPrint puts in place of absolutely
    positioned and fixed boxes on the page where they first appear."""
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(getattr(child, "_box", child))


class _Font:
    """One embedded TrueType font: glyph ids of the text drawn, their widths, the ToUnicode map."""

    def __init__(self, name: str) -> None:
        from fontTools.ttLib import TTFont

        self.path = _font_path(name)
        self.data = self.path.read_bytes()  # read whole: fontTools would keep the file open
        self.tt = TTFont(io.BytesIO(self.data), lazy=True)
        self.cmap = self.tt.getBestCmap()
        self.units = self.tt["head"].unitsPerEm
        self.hmtx = self.tt["hmtx"].metrics
        hhea = self.tt["hhea"]
        self.ascent, self.descent = hhea.ascent / self.units, hhea.descent / self.units
        self.used: dict[int, str] = {}  # glyph id → the character it draws
        self.widths: dict[int, int] = {}  # glyph id → advance in 1/1000 em
        self.ids: dict[str, int] = {}

    def glyphs(self, text: str) -> list[int]:
        return [self.ids[ch] if ch in self.ids else self._gid(ch) for ch in text]

    def _gid(self, ch: str) -> int:
        glyph = self.cmap.get(ord(ch))
        if glyph is None:  # not in DejaVu (rare outside Vietnamese and Latin): a visible "?"
            gid = self._gid("?") if ch != "?" else 0
        else:
            gid = self.tt.getGlyphID(glyph)
            self.used[gid] = ch
            self.widths[gid] = round(self.hmtx[glyph][0] * 1000 / self.units)
        self.ids[ch] = gid
        return gid

    def width(self, gids: list[int], size: float) -> float:
        return sum(self.widths.get(g, 0) for g in gids) * size / 1000


def clean(text: str) -> str:
    """NFC (one glyph per Vietnamese letter), no control or invisible characters, one line."""
    text = unicodedata.normalize("NFC", text)
    return " ".join("".join(c if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") else " " for c in text).split())


_VERSIONS: dict[int, int] = {}  # data length → the QR version that fits it (letters' links share one length)


def qr_matrix(data: str) -> list[list[bool]]:
    """The code's modules with the quiet zone. Two shortcuts make it ~5× faster than codes.qr_svg's:
    a fixed mask (choosing the best of eight is most of qrcode's pure-Python time; any mask scans)
    and the version found once per data length rather than tried for every code."""
    version = _VERSIONS.get(len(data))
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, mask_pattern=2, version=version)
    code.add_data(data)
    code.make(fit=version is None)
    if version is None and data.isascii():
        _VERSIONS[len(data)] = code.version
    return code.get_matrix()


class Stamper:
    """Collects pages (a template variant and its values) and writes them as one PDF."""

    def __init__(self, templates: dict[str, Template]) -> None:
        self.templates = templates
        self.fonts: dict[str, _Font] = {}
        self.pages: list[tuple[str, int, bytes]] = []  # (variant, template page, content stream)

    def _font(self, name: str) -> _Font:
        if name not in self.fonts:
            self.fonts[name] = _Font(name)
        return self.fonts[name]

    def _text(self, slot: Slot, value: str, page_height: float) -> str:
        font = self._font(slot.font)
        text = clean(value)
        if not text:
            return ""
        gids = font.glyphs(text)
        size = slot.size
        width = font.width(gids, size)
        if width > slot.width:
            size = max(slot.size * MIN_SCALE, size * slot.width / width)
            width = font.width(gids, size)
            while width > slot.width and len(text) > 1:
                text = text[:-2].rstrip() + "…"
                gids = font.glyphs(text)
                width = font.width(gids, size)
        x = slot.x + {"left": 0, "center": (slot.width - width) / 2, "right": slot.width - width}[slot.align]
        line = (font.ascent - font.descent) * size
        baseline = slot.top + max(slot.height - line, 0) / 2 + font.ascent * size
        code = "".join(f"{g:04X}" for g in gids)
        return f"BT /{slot.font} {size:.2f} Tf 1 0 0 1 {x:.2f} {page_height - baseline:.2f} Tm <{code}> Tj ET\n"

    @staticmethod
    def _qr(slot: Slot, value: str, page_height: float) -> str:
        """Dark runs of each row as unit rectangles, scaled by one transform: integers only."""
        matrix = qr_matrix(value)
        n = len(matrix)
        side = min(slot.width, slot.height)
        module = side / n
        x0 = slot.x + (slot.width - side) / 2
        top = page_height - slot.top - (slot.height - side) / 2
        parts = [f"q 1 g {x0:.2f} {top - side:.2f} {side:.2f} {side:.2f} re f 0 g {module:.4f} 0 0 {-module:.4f} {x0:.2f} {top:.2f} cm\n"]
        parts.extend(f"{x} {y} {length} 1 re\n" for x, y, length in dark_runs(matrix))
        parts.append("f Q\n")
        return "".join(parts)

    def add(self, variant: str, values: dict[str, str], qr: dict[str, str] | None = None) -> None:
        """One copy of the variant's pages with these values; slots named in `qr` get a QR code."""
        qr = qr or {}
        for index, page in enumerate(self.templates[variant].pages):
            ops = ["q /T Do Q\n0 g\n"]
            for slot in page.slots:
                if slot.name in qr:
                    ops.append(self._qr(slot, qr[slot.name], page.height))
                elif slot.name in values:
                    ops.append(self._text(slot, values[slot.name], page.height))
            self.pages.append((variant, index, zlib.compress("".join(ops).encode("ascii"), 6)))

    def write(self, target: str | Path | IO[bytes], progress: Callable[[int], None] | None = None) -> int:
        from pypdf import PdfReader, PdfWriter
        from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject

        if not self.pages:
            raise ValueError("nothing to print")
        writer = PdfWriter()
        fonts = {name: self._embed(writer, name, font) for name, font in self.fonts.items()}
        resources = {}
        for variant, tpl in self.templates.items():
            reader = PdfReader(io.BytesIO(tpl.pdf))
            for index, page in enumerate(reader.pages):
                form = DecodedStreamObject()
                form.set_data(page.get_contents().get_data())
                form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                             NameObject("/BBox"): ArrayObject(NumberObject(0) if i < 2 else page.mediabox[i] for i in range(4)),
                             NameObject("/Resources"): page["/Resources"]})
                form_ref = writer._add_object(form.clone(writer).flate_encode())
                font_dict = DictionaryObject({NameObject(f"/{n}"): ref for n, ref in fonts.items()})
                resources[(variant, index)] = writer._add_object(DictionaryObject({
                    NameObject("/XObject"): DictionaryObject({NameObject("/T"): form_ref}),
                    NameObject("/Font"): font_dict}))
        done = 0
        for variant, index, data in self.pages:
            size = self.templates[variant].pages[index]
            page = writer.add_blank_page(size.width, size.height)
            stream = DecodedStreamObject()
            stream._data = data
            stream[NameObject("/Filter")] = NameObject("/FlateDecode")
            page[NameObject("/Contents")] = writer._add_object(stream)
            page[NameObject("/Resources")] = resources[(variant, index)]
            done += 1
            if progress and done % 500 == 0:
                progress(500)
        if progress and done % 500:
            progress(done % 500)
        writer.write(target)
        return len(self.pages)

    @staticmethod
    def _embed(writer, name: str, font: _Font):
        from fontTools import subset
        from fontTools.ttLib import TTFont
        from pypdf.generic import (ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject,
                                   NumberObject, TextStringObject)

        options = subset.Options()
        options.retain_gids = True  # the content streams already hold the original glyph ids
        options.notdef_outline = True
        options.layout_features = []
        options.drop_tables += ["FFTM"]  # FontForge timestamps: fontTools cannot subset them, says so, drops them
        subsetter = subset.Subsetter(options)
        tt = TTFont(io.BytesIO(font.data))
        subsetter.populate(unicodes=[ord(c) for c in font.used.values()])
        subsetter.subset(tt)
        buf = io.BytesIO()
        tt.save(buf)
        data = buf.getvalue()
        base = NameObject(f"/SIPAS{name.capitalize()}+{font.path.stem.replace('-', '')}")
        file_stream = DecodedStreamObject()
        file_stream.set_data(data)
        file_stream[NameObject("/Length1")] = NumberObject(len(data))
        file_ref = writer._add_object(file_stream.flate_encode())
        head = tt["head"]
        scale = 1000 / head.unitsPerEm
        descriptor = writer._add_object(DictionaryObject({
            NameObject("/Type"): NameObject("/FontDescriptor"), NameObject("/FontName"): base,
            NameObject("/Flags"): NumberObject(32 | (1 if name == "mono" else 0)),
            NameObject("/FontBBox"): ArrayObject(NumberObject(round(v * scale)) for v in (head.xMin, head.yMin, head.xMax, head.yMax)),
            NameObject("/ItalicAngle"): NumberObject(0), NameObject("/Ascent"): FloatObject(round(font.ascent * 1000)),
            NameObject("/Descent"): FloatObject(round(font.descent * 1000)), NameObject("/CapHeight"): NumberObject(700),
            NameObject("/StemV"): NumberObject(80), NameObject("/FontFile2"): file_ref}))
        widths = ArrayObject()
        for gid in sorted(font.widths):
            widths.extend([NumberObject(gid), ArrayObject([NumberObject(font.widths[gid])])])
        cid = writer._add_object(DictionaryObject({
            NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/CIDFontType2"),
            NameObject("/BaseFont"): base, NameObject("/CIDToGIDMap"): NameObject("/Identity"),
            NameObject("/CIDSystemInfo"): DictionaryObject({NameObject("/Registry"): TextStringObject("Adobe"),
                                                            NameObject("/Ordering"): TextStringObject("Identity"),
                                                            NameObject("/Supplement"): NumberObject(0)}),
            NameObject("/FontDescriptor"): descriptor, NameObject("/W"): widths}))
        to_unicode = DecodedStreamObject()
        to_unicode.set_data(_cmap(font.used).encode("ascii"))
        return writer._add_object(DictionaryObject({
            NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type0"),
            NameObject("/BaseFont"): base, NameObject("/Encoding"): NameObject("/Identity-H"),
            NameObject("/DescendantFonts"): ArrayObject([cid]),
            NameObject("/ToUnicode"): writer._add_object(to_unicode.flate_encode())}))


def _cmap(used: dict[int, str]) -> str:
    lines = ["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
             "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
             "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange"]
    items = sorted(used.items())
    for start in range(0, len(items), 100):
        chunk = items[start:start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines.extend(f"<{gid:04X}> <{''.join(f'{u:04X}' for u in _utf16(ch))}>" for gid, ch in chunk)
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines)


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
