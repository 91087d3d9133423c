"""The dashboard's charts as SVG, drawn on the server with matplotlib (Agg, DejaVu Sans, text as
paths: no font or script reaches the browser), the same bytes in the page and in the workbook.

Elements and criteria: diverging stacked bars of answers 1–5 (dissatisfied to the left, the
neutral 3 split across zero, satisfied to the right), hatched as well as shaded so they read
in black-and-white print. Units: a funnel plot of each unit's satisfaction against the target
(or the subtree's own figure when no target is in force) with 95% and 99.8% limits. Trend: the
focus measure per period with its Wilson interval as error bars, one line per source told apart
by marker and dash as well as shade.
"""
from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

from analysis.inference import MIN_N, funnel_limits

from ..i18n import _
from .dashboard import MEASURE_LABELS, SOURCE_LABELS, Dashboard

SHADES = ("#7f1d1d", "#d98c8c", "#d9d9d9", "#8fb3d9", "#0b3d91")  # 1 … 5, distinct in grey too
HATCHES = ("xxx", "//", "", "..", "")
_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.DOTALL)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    pyplot.rcParams.update({"font.family": "DejaVu Sans", "svg.fonttype": "path", "svg.hashsalt": "sipas",
                            "font.size": 9})
    return pyplot


def _svg(fig, pyplot) -> bytes:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    pyplot.close(fig)
    # the stylesheet matplotlib writes only rounds line joins; dropped so the image carries no <style>
    return _STYLE.sub("", out.getvalue()).encode("utf-8")


def _png(fig, pyplot) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    pyplot.close(fig)
    return out.getvalue()


def criteria_svg(board: Dashboard) -> bytes:
    pyplot = _pyplot()
    return _svg(_criteria(board, pyplot), pyplot)


def criteria_png(board: Dashboard) -> bytes:
    pyplot = _pyplot()
    return _png(_criteria(board, pyplot), pyplot)


def funnel_svg(board: Dashboard) -> bytes:
    pyplot = _pyplot()
    return _svg(_funnel(board, pyplot), pyplot)


def funnel_png(board: Dashboard) -> bytes:
    pyplot = _pyplot()
    return _png(_funnel(board, pyplot), pyplot)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def criteria_rows(board: Dashboard) -> list[dict[str, Any]]:
    """The bars as a table (the text alternative): shares of 1–5 in percent per element and criterion."""
    rows = []
    for r in board.criteria.to_dict("records"):
        counts = [int(r[f"n{c}"]) for c in range(1, 6)]
        total = sum(counts)
        rows.append({**r, "source_label": _(SOURCE_LABELS.get(r["source"], r["source"])), "answers": total,
                     "shares": [100 * c / total if total else None for c in counts]})
    return rows


def _criteria(board: Dashboard, pyplot):
    rows = [r for r in criteria_rows(board) if r["answers"]]
    height = 1.2 + 0.32 * max(len(rows), 1)
    fig, ax = pyplot.subplots(figsize=(9, height))
    if not rows:
        ax.text(0.5, 0.5, _("Không có câu trả lời nào trong phạm vi đã chọn."), ha="center", va="center")
        ax.axis("off")
        return fig
    sources = {r["source"] for r in rows}
    labels = [(f"[{_(SOURCE_LABELS[r['source']])[:12]}] " if len(sources) > 1 else "")
              + ("▶ " if r["level"] == "element" else "   ") + _short(str(r["label"])) for r in rows]
    shares = np.array([r["shares"] for r in rows], dtype=float)
    y = np.arange(len(rows))[::-1]
    left = -(shares[:, 0] + shares[:, 1] + shares[:, 2] / 2)
    names = [_("1 Rất không hài lòng"), _("2 Không hài lòng"), _("3 Bình thường"), _("4 Hài lòng"), _("5 Rất hài lòng")]
    for code in range(5):
        ax.barh(y, shares[:, code], left=left, color=SHADES[code], hatch=HATCHES[code], edgecolor="#333333",
                linewidth=0.3, label=names[code])
        left = left + shares[:, code]
    ax.axvline(0, color="#000000", linewidth=0.8)
    ax.set_yticks(y, labels)
    ax.set_xlim(-100, 100)
    ax.set_xticks([-100, -50, 0, 50, 100], ["100%", "50%", "0", "50%", "100%"])
    ax.set_xlabel(_("Tỷ lệ câu trả lời: không hài lòng bên trái, hài lòng bên phải"))
    ax.legend(ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.6 / height), frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def funnel_points(board: Dashboard) -> tuple[list[dict[str, Any]], float | None]:
    """Units of one source (the first shown) with n ≥ 30 below the chosen unit, and the centre line in percent."""
    if not board.units:
        return [], None
    source = board.units[0].source
    rows = [u for u in board.units if u.source == source]
    top = next((u for u in rows if u.depth == 0), None)
    centre = board.funnel_target if board.funnel_target is not None else (top.figure.pct if top else None)
    points = [{"unit": u.unit, "name": u.name, "n": u.figure.n_eff, "pct": u.figure.pct, "source": source}
              for u in rows if u.depth > 0 and not u.suppressed and u.figure.pct is not None]
    return points, centre


def _funnel(board: Dashboard, pyplot):
    points, centre = funnel_points(board)
    fig, ax = pyplot.subplots(figsize=(8, 4.5))
    if not points or centre is None:
        ax.text(0.5, 0.5, _("Chưa có đơn vị cấp dưới nào đủ {n} phiếu để vẽ biểu đồ phễu.", n=MIN_N), ha="center",
                va="center", wrap=True)
        ax.axis("off")
        return fig
    n_max = max(p["n"] for p in points) * 1.15
    grid = np.linspace(MIN_N, max(n_max, MIN_N + 1), 200)
    limits = funnel_limits(grid, min(max(centre / 100, 1e-6), 1 - 1e-6)) * 100
    ax.plot(grid, [centre] * len(grid), color="#000000", linewidth=1.2,
            label=_("Chỉ tiêu {pct}", pct=f"{centre:.1f}%".replace(".", ",")) if board.funnel_target is not None
            else _("Mức chung của đơn vị"))
    ax.plot(grid, limits["lo95"], "--", color="#444444", linewidth=0.9, label=_("Giới hạn 95%"))
    ax.plot(grid, limits["hi95"], "--", color="#444444", linewidth=0.9)
    ax.plot(grid, limits["lo998"], ":", color="#444444", linewidth=1.1, label=_("Giới hạn 99,8%"))
    ax.plot(grid, limits["hi998"], ":", color="#444444", linewidth=1.1)
    ax.scatter([p["n"] for p in points], [p["pct"] for p in points], s=22, color="#0b3d91", marker="o", zorder=3,
               label=_("Đơn vị (n ≥ {n})", n=MIN_N))
    for p in points:
        ax.annotate(p["unit"], (p["n"], p["pct"]), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_xlabel(_("Số phiếu (n)"))
    ax.set_ylabel(_("% hài lòng"))
    ax.legend(loc="lower right", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def trend_svg(board: Dashboard) -> bytes:
    pyplot = _pyplot()
    return _svg(_trend(board, pyplot), pyplot)


def trend_png(board: Dashboard) -> bytes:
    pyplot = _pyplot()
    return _png(_trend(board, pyplot), pyplot)


def trend_rows(board: Dashboard) -> list[dict[str, Any]]:
    """The trend as a table (the text alternative), one row per period and source; periods without answers kept."""
    return [{"period": p.period.label, "source": p.source, "source_label": _(SOURCE_LABELS.get(p.source, p.source)),
             "measure": _(MEASURE_LABELS.get(p.measure, p.measure)), "n": p.figure.n, "pct": p.figure.pct,
             "ci_low": p.figure.ci_low, "ci_high": p.figure.ci_high} for p in board.trend]


TREND_STYLES = (("o", "-", "#0b3d91"), ("s", "--", "#7f1d1d"))


def _trend(board: Dashboard, pyplot):
    rows = trend_rows(board)
    fig, ax = pyplot.subplots(figsize=(8, 3.8))
    if not any(r["pct"] is not None for r in rows):
        ax.text(0.5, 0.5, _("Không có câu trả lời nào trong các kỳ của xu hướng."), ha="center", va="center")
        ax.axis("off")
        return fig
    periods = list(dict.fromkeys(r["period"] for r in rows))
    x = {p: i for i, p in enumerate(periods)}
    for (marker, dash, colour), source in zip(TREND_STYLES, dict.fromkeys(r["source"] for r in rows)):
        mine = [r for r in rows if r["source"] == source and r["pct"] is not None]
        xs = [x[r["period"]] for r in mine]
        pct = np.array([r["pct"] for r in mine])
        err = np.array([[r["pct"] - r["ci_low"] for r in mine], [r["ci_high"] - r["pct"] for r in mine]])
        ax.errorbar(xs, pct, yerr=err, marker=marker, linestyle=dash, color=colour, capsize=3, linewidth=1.2,
                    markersize=5, label=mine[0]["source_label"] if mine else source)
    if board.funnel_target is not None:
        ax.axhline(board.funnel_target, color="#000000", linewidth=0.8, linestyle=":",
                   label=_("Chỉ tiêu {pct}", pct=f"{board.funnel_target:.1f}%".replace(".", ",")))
    ax.set_xticks(range(len(periods)), periods, rotation=45 if len(periods) > 6 else 0, ha="right" if len(periods) > 6 else "center")
    ax.set_ylabel(_("% hài lòng (khoảng tin cậy Wilson 95%)"))
    ax.legend(loc="lower right", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
