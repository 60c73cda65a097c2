"""Server-rendered, accessible SVG charts and the world map.

No JavaScript: each chart is an inline ``<svg role="img">`` with a ``<title>`` and a ``<desc>``
(the text summary), one ``<title>`` per mark for pointer users, and the page always shows the
same figures in a data table next to it. Every text is escaped here, so the result is Markup.

Right-to-left: bar and column charts are mirrored (bars grow from the right, time runs from
right to left, the value axis sits on the right) by mirroring every x coordinate and setting
``direction="rtl"``, which turns each ``text-anchor`` around with it. The map is geography and is
never mirrored.

Sizes: charts draw in a 360-unit-wide view box and scale to their container (at most 32rem
wide); fonts are 12–13 units, so on a 320 px phone they are still about 10 px, and labels go
*above* their bars so a narrow screen does not squeeze them into a column.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.numbers import (
    format_compact_currency,
    format_compact_decimal,
    format_decimal,
    parse_pattern,
)
from flask import has_request_context, request
from flask_babel import get_locale
from markupsafe import Markup, escape

MAP_FILE = Path(__file__).resolve().parent / "data" / "world-110m.json"
WIDTH = 360  # view-box units; with 12–13 unit fonts, readable from 320 px phones up
# ColorBrewer "Blues" (5 classes): sequential, readable in greyscale and by colour-blind readers.
MAP_CLASSES = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
MAP_EMPTY = "#e9edf1"
HIGHLIGHT = "#d55e00"  # Okabe–Ito vermilion: distinct from the blues for every colour vision
NICE = (1, 2, 5)


# --------------------------------------------------------------------------- formatting


def _locale() -> Locale:
    """The request's locale, looked up once per request (a page formats a thousand numbers)."""
    if has_request_context():  # on the request, not on g: g outlives a request in tests
        cached = getattr(request, "_chart_locale", None)
        if cached is None:
            cached = request._chart_locale = get_locale() or Locale.parse("en")
        return cached
    return get_locale() or Locale.parse("en")


def is_rtl() -> bool:
    return _locale().character_order == "right-to-left"


# Formatting is cached per (locale, value): counts and totals repeat across charts and tables.
@lru_cache(maxsize=8192)
def _int_text(locale: str, value: int) -> str:
    return format_decimal(value, locale=locale)


@lru_cache(maxsize=64)
def _whole_money_pattern(locale: str):
    pattern = parse_pattern(Locale.parse(locale).currency_formats["standard"].pattern)
    pattern.frac_prec = (0, 0)
    return pattern


@lru_cache(maxsize=8192)
def _money_text(locale: str, value: Decimal, currency: str) -> str:
    return _whole_money_pattern(locale).apply(
        value, Locale.parse(locale), currency=currency, currency_digits=False
    )


def fmt_int(value: int) -> str:
    return _int_text(str(_locale()), value)


def fmt_money(value: Decimal | float, currency: str) -> str:
    """A whole amount in the reader's locale, e.g. US$1,250,000 / 1 250 000 $US."""
    return _money_text(str(_locale()), Decimal(value), currency)


def fmt_money_short(value: Decimal | float, currency: str) -> str:
    """A compact amount for labels on a chart, e.g. $12.3M / 12,3 M $US."""
    return format_compact_currency(value, currency, locale=_locale(), fraction_digits=1)


def fmt_short(value: float) -> str:
    return format_compact_decimal(value, locale=_locale(), fraction_digits=1)


def _nice_step(maximum: float, ticks: int = 4) -> float:
    raw = maximum / ticks if maximum > 0 else 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


# --------------------------------------------------------------------------- bar and column


@dataclass
class Mark:
    label: str
    value: float
    text: str  # the value as written beside the bar
    tooltip: str  # the full sentence for the mark's <title>


class _Svg:
    """Collects SVG elements, mirroring x coordinates for right-to-left pages."""

    def __init__(self, width: float, rtl: bool):
        self.width, self.rtl, self.parts = width, rtl, []

    def x(self, x: float, w: float = 0) -> float:
        return self.width - x - w if self.rtl else x

    def rect(self, x, y, w, h, cls, tooltip=None):
        title = f"<title>{escape(tooltip)}</title>" if tooltip else ""
        self.parts.append(
            f'<rect x="{self.x(x, w):.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" '
            f'height="{h:.1f}" class="{cls}">{title}</rect>'
        )

    def text(self, x, y, content, cls, anchor="start"):
        self.parts.append(
            f'<text x="{self.x(x):.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">'
            f"{escape(content)}</text>"
        )

    def line(self, x1, y1, x2, y2, cls):
        self.parts.append(
            f'<line x1="{self.x(x1):.1f}" y1="{y1:.1f}" x2="{self.x(x2):.1f}" y2="{y2:.1f}" '
            f'class="{cls}"/>'
        )

    def render(self, height: float, chart_id: str, title: str, desc: str, kind: str) -> Markup:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="insight-chart {kind}" role="img" '
            f'viewBox="0 0 {self.width} {height:.0f}" direction="{"rtl" if self.rtl else "ltr"}" '
            f'data-direction="{"rtl" if self.rtl else "ltr"}" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">'
            f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        )
        return Markup(head + "".join(self.parts) + "</svg>")  # noqa: S704 - escaped above


def _wrap(label: str, width: int = 46, lines: int = 2) -> list[str]:
    words, out, current = label.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        out.append(current)
    if not out:  # a language without spaces (Chinese) or one long word
        out = [label[i : i + width] for i in range(0, len(label), width)] or [""]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1].rstrip() + "…"
    return [line if len(line) <= width else line[: width - 1] + "…" for line in out]


def bar_chart(marks: list[Mark], *, chart_id: str, title: str, desc: str) -> Markup:
    """Horizontal bars, label above each bar, the value at the bar's end."""
    rtl, pad, bar_h, line_h, gap = is_rtl(), 6, 16, 16, 12
    svg = _Svg(WIDTH, rtl)
    maximum = max((m.value for m in marks), default=0) or 1
    room = WIDTH - 2 * pad - 96  # leave space for the value text after the longest bar
    y = pad
    for mark in marks:
        for line in _wrap(mark.label):
            y += line_h
            svg.text(pad, y - 3, line, "chart-label")
        length = room * mark.value / maximum
        svg.rect(pad, y + 2, WIDTH - 2 * pad, bar_h, "bar-track")
        svg.rect(pad, y + 2, max(length, 1.5 if mark.value else 0), bar_h, "bar", mark.tooltip)
        svg.text(pad + length + 5, y + 2 + bar_h - 4, mark.text, "chart-value")
        y += bar_h + gap
    return svg.render(y + pad - gap + 4, chart_id, title, desc, "bars")


def column_chart(
    marks: list[Mark], *, chart_id: str, title: str, desc: str, money: str | None = None
) -> Markup:
    """Vertical columns along a time axis (years), with a value axis and grid lines."""
    rtl = is_rtl()
    right, top, bottom, height = 8, 12, 28, 240
    maximum = max((m.value for m in marks), default=0)
    step = _nice_step(maximum)
    if money is None:
        step = max(1, math.ceil(step))
    top_value = step * max(1, math.ceil(maximum / step)) if maximum else step
    ticks, tick = [], 0.0
    while tick <= top_value + 1e-9:
        ticks.append((tick, fmt_money_short(tick, money) if money else fmt_short(tick)))
        tick += step
    # Room for the longest tick label (12-unit font ≈ 6.8 units per character).
    left = max(36, 12 + 6.8 * max(len(label) for _t, label in ticks))
    svg = _Svg(WIDTH, rtl)
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    for tick, label in ticks:
        y = top + plot_h * (1 - tick / top_value)
        svg.line(left, y, WIDTH - right, y, "grid")
        svg.text(left - 6, y + 4, label, "axis-label", "end")
    svg.line(left, top, left, top + plot_h, "axis")
    n = max(len(marks), 1)
    slot = plot_w / n
    every = max(1, math.ceil(n * 34 / plot_w))  # year labels ~34 units wide
    for i, mark in enumerate(marks):
        x = left + i * slot
        h = plot_h * mark.value / top_value if top_value else 0
        svg.rect(x + slot * 0.15, top + plot_h - h, slot * 0.7, h, "bar column", mark.tooltip)
        if i % every == 0 or i == n - 1 and (n - 1) % every == 0:
            svg.text(x + slot / 2, top + plot_h + 16, mark.label, "axis-label", "middle")
    return svg.render(height, chart_id, title, desc, "columns")


# --------------------------------------------------------------------------- world map


@lru_cache(maxsize=1)
def world_shapes() -> dict:
    data = json.loads(MAP_FILE.read_text(encoding="utf-8"))
    for country in data["countries"]:
        country["d"] = compact_path(country["d"])
    data["by_numeric"] = {c["numeric"]: c for c in data["countries"] if c["numeric"]}
    return data


def _tenths(value: int) -> str:
    """``value`` tenths as the shortest SVG number: 15 → "1.5", -3 → "-.3", 20 → "2"."""
    whole, tenth = divmod(abs(value), 10)
    text = str(whole) if not tenth else f"{whole or ''}.{tenth}"
    return ("-" if value < 0 else "") + text


def compact_path(d: str) -> str:
    """The same outline in about 60 % of the characters: relative moves (``m``/``l``) from
    coordinates rounded to the tenth (the file's precision), with implicit repeated commands
    and no separator an SVG parser does not need. Every page with a map carries all ~180
    outlines, so this is most of what a partner or region page weighs."""
    out: list[str] = []
    x = y = start_x = start_y = 0
    last = ""  # the previous number written, to know whether the next one needs a space
    drawing = False  # after "m" or "l", more pairs are lines without repeating the letter
    for command, args in _PATH_PARTS.findall(d):
        if command not in "ML":
            out.append("z")
            x, y, last, drawing = start_x, start_y, "", False
            continue
        numbers = [round(float(n) * 10) for n in args.replace(",", " ").split()]
        for i in range(0, len(numbers), 2):
            nx, ny = numbers[i], numbers[i + 1]
            dx, dy = _tenths(nx - x), _tenths(ny - y)
            if command == "M" and i == 0:
                out.append("m")
                start_x, start_y = nx, ny
            elif not drawing:
                out.append("l")
            elif not (dx.startswith("-") or (dx.startswith(".") and "." in last)):
                out.append(" ")
            drawing = True
            out.append(dx)
            if not (dy.startswith("-") or (dy.startswith(".") and "." in dx)):
                out.append(" ")
            out.append(dy)
            x, y, last = nx, ny, dy
    return "".join(out)


_PATH_PARTS = re.compile(r"([MLZ])([^MLZ]*)")  # the file's paths: absolute M, L and Z


@dataclass
class MapClass:
    low: int
    high: int
    colour: str


def map_classes(counts: list[int]) -> list[MapClass]:
    """Up to five classes with round lower bounds, from the spread of non-zero counts."""
    values = sorted(c for c in counts if c > 0)
    if not values:
        return []
    bounds = [1]
    for q in (0.35, 0.6, 0.8, 0.93):
        raw = values[min(len(values) - 1, int(q * len(values)))]
        magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
        nice = max(f * magnitude for f in NICE if f * magnitude <= raw)
        if nice > bounds[-1]:
            bounds.append(int(nice))
    top = values[-1]
    classes = []
    for i, low in enumerate(bounds):
        high = bounds[i + 1] - 1 if i + 1 < len(bounds) else top
        classes.append(MapClass(low, max(low, high), MAP_CLASSES[i]))
    return classes


def _colour(count: int, classes: list[MapClass]) -> str:
    for cls in reversed(classes):
        if count >= cls.low:
            return cls.colour
    return MAP_EMPTY


def _focus_box(numerics: set[str], shapes: dict) -> tuple[float, float, float, float] | None:
    boxes = [shapes["by_numeric"][n]["main_bbox"] for n in numerics if n in shapes["by_numeric"]]
    if not boxes:
        return None
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    w, h = max(x1 - x0, 60), max(y1 - y0, 40)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = w * 1.3, h * 1.3
    # Keep the drawing between 2:1 and 4:3, so a tall region does not make a tall page.
    if h > w * 0.75:
        w = h / 0.75
    if h < w * 0.5:
        h = w * 0.5
    x0, y0 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
    w = min(w, shapes["width"] - x0)
    h = min(h, shapes["height"] - y0)
    return x0, y0, w, h


def world_map(
    counts: dict[str, tuple[int, str]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    classes: list[MapClass],
    highlight: set[str] | None = None,
    zoom: bool = False,
) -> Markup:
    """Countries coloured by number of agreements; ``highlight`` (ISO numeric codes) outlined.

    ``counts`` maps ISO numeric → (agreements, country name in the reader's language). With
    ``zoom`` the view box closes in on the highlighted countries (a region or country page).
    """
    shapes = world_shapes()
    highlight = highlight or set()
    box = _focus_box(highlight, shapes) if zoom and highlight else None
    x0, y0, w, h = box or (0.0, 0.0, shapes["width"], shapes["height"])
    stroke = max(0.12, 0.5 * w / shapes["width"])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="insight-map" role="img" '
        f'viewBox="{x0:.1f} {y0:.1f} {w:.1f} {h:.1f}" id="{chart_id}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#f7fbff"/>'
    ]
    on_top = []
    for shape in shapes["countries"]:
        bx0, by0, bx1, by1 = shape["bbox"]
        if box and (bx1 < x0 or bx0 > x0 + w or by1 < y0 or by0 > y0 + h):
            continue  # outside the zoomed view: leave it out of the page
        numeric = shape["numeric"]
        count, name = counts.get(numeric or "", (0, None))
        name = name or shape["name"]
        # Presentation attributes, not CSS: the same SVG is also served on its own (map.svg).
        if numeric in highlight:
            look = f'class="country in-focus" stroke="{HIGHLIGHT}" stroke-width="{stroke * 3:.2f}"'
        elif highlight:
            look = f'class="country" stroke="#fff" stroke-width="{stroke:.2f}" fill-opacity=".5"'
        else:
            look = f'class="country" stroke="#fff" stroke-width="{stroke:.2f}"'
        element = (
            f'<path d="{shape["d"]}" {look} fill="{_colour(count, classes)}"'
            f"{f' data-numeric={chr(34)}{numeric}{chr(34)}' if numeric else ''} "
            f'data-count="{count}">'
            # A tooltip only where there is something to say (and a smaller page).
            + (f"<title>{escape(name)}: {escape(fmt_int(count))}</title>" if count else "")
            + "</path>"
        )
        (on_top if numeric in highlight else parts).append(element)
    parts.extend(on_top)  # outlines of the highlighted countries are drawn last, uncovered
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - names and numbers escaped above
