"""From figures (queries.py) to what a page shows: charts, data tables and text summaries.

The summary sentence is the chart's ``<desc>`` and is also printed under the chart, so a screen
reader user, a sighted user and a printout get the same message; the table has every number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup

from portal.insights.charts import (
    MapClass,
    Mark,
    bar_chart,
    column_chart,
    fmt_int,
    fmt_money,
    fmt_money_short,
    map_classes,
    world_map,
    world_shapes,
)
from portal.insights.queries import Breakdown, Insights
from portal.partners.queries import RegionTree


@dataclass
class TableRow:
    label: str
    count: int
    value: str | None  # in the chosen currency
    others: list[str]  # other currencies, each on its own, never summed
    filter_value: str | None


@dataclass
class Panel:
    name: str
    title: str
    chart: Markup
    summary: str
    value_chart: Markup | None
    value_summary: str | None
    rows: list[TableRow]
    unit_label: str
    key_label: str  # the table's first column: Region, Year, Type …
    note: str | None
    unassigned: str | None
    filter_param: str | None
    show_values: bool


@dataclass
class MapView:
    svg: Markup
    summary: str
    classes: list[MapClass]
    countries: list  # CountryCount, most agreements first
    regions: list[tuple[str, str, int]]  # (code, name, agreements): continents or sub-regions
    not_drawn: int
    highlighted: str | None = None  # "Eastern Africa" when a region or country is in focus


@dataclass
class Picture:
    insights: Insights
    panels: list[Panel] = field(default_factory=list)
    map: MapView | None = None


def _count_text(n: int, unit: str) -> str:
    if unit == "partners":
        return ngettext("%(count)s partner", "%(count)s partners", n, count=fmt_int(n))
    return ngettext("%(count)s agreement", "%(count)s agreements", n, count=fmt_int(n))


def _summary(b: Breakdown, insights: Insights) -> str:
    if not b.rows or not b.total:
        return _("Nothing to show for these filters.")
    if b.name == "year":
        busiest = b.top()
        return _(
            "Agreements signed from %(first)s to %(last)s; the most in %(year)s (%(count)s).",
            first=b.rows[0].label,
            last=b.rows[-1].label,
            year=busiest.label,
            count=_count_text(busiest.count, b.unit),
        )
    top = b.top()
    whole = insights.totals.partners if b.unit == "partners" else insights.totals.agreements
    return _(
        "%(label)s has the most: %(count)s of %(total)s.",
        label=top.label,
        count=_count_text(top.count, b.unit),
        total=fmt_int(whole),
    )


def _value_summary(b: Breakdown, currency: str) -> str:
    top = b.top_by_value(currency)
    if top is None:
        return _("No agreement here has a value in %(currency)s.", currency=currency)
    return _(
        "Value in %(currency)s only (other currencies are in the table, never added): "
        "the largest is %(label)s with %(value)s.",
        currency=currency,
        label=top.label,
        value=fmt_money(top.value_in(currency), currency),
    )


def _key_label(name: str) -> str:
    return {
        "region": _("Region"),
        "year": _("Year"),
        "type": _("Type"),
        "domain": _("Domain of change"),
        "sdg": _("SDG goal"),
        "stakeholder_group": _("Stakeholder group"),
    }.get(name, "")


def build_panel(b: Breakdown, insights: Insights, prefix: str) -> Panel:
    currency = insights.currency
    summary = _summary(b, insights)
    marks = [
        Mark(
            row.label,
            row.count,
            fmt_int(row.count),
            f"{row.label}: {_count_text(row.count, b.unit)}",
        )
        for row in b.rows
    ]
    chart_id = f"{prefix}-{b.name}"
    draw = column_chart if b.name == "year" else bar_chart
    chart = draw(marks, chart_id=chart_id, title=b.title, desc=summary)
    value_chart = value_summary = None
    show_values = b.has_values and currency is not None
    if show_values and any(row.value_in(currency) for row in b.rows):
        value_summary = _value_summary(b, currency)
        value_title = _("%(title)s: value in %(currency)s", title=b.title, currency=currency)
        value_marks = [
            Mark(
                row.label,
                float(row.value_in(currency)),
                fmt_money_short(row.value_in(currency), currency),
                f"{row.label}: {fmt_money(row.value_in(currency), currency)}",
            )
            for row in b.rows
        ]
        if b.name == "year":
            value_chart = column_chart(
                value_marks,
                chart_id=f"{chart_id}-value",
                title=value_title,
                desc=value_summary,
                money=currency,
            )
        else:
            value_chart = bar_chart(
                value_marks, chart_id=f"{chart_id}-value", title=value_title, desc=value_summary
            )
    rows = [
        TableRow(
            label=row.label,
            count=row.count,
            value=fmt_money(row.value_in(currency), currency) if show_values else None,
            others=[fmt_money(v, c) for c, v in row.other_values(currency)],
            filter_value=row.filter_value,
        )
        for row in b.rows
    ]
    unassigned = None
    if b.unassigned:
        if b.name == "year":
            unassigned = _("Not signed yet: %(count)s.", count=_count_text(b.unassigned, b.unit))
        else:
            unassigned = _("Not stated: %(count)s.", count=_count_text(b.unassigned, b.unit))
    return Panel(
        name=b.name,
        title=b.title,
        chart=chart,
        summary=summary,
        value_chart=value_chart,
        value_summary=value_summary,
        rows=rows,
        unit_label=_("Partners") if b.unit == "partners" else _("Agreements"),
        key_label=_key_label(b.name),
        note=b.note,
        unassigned=unassigned,
        filter_param=b.filter_param,
        show_values=show_values,
    )


def build_map(
    insights: Insights,
    tree: RegionTree,
    prefix: str,
    *,
    focus_region: str | None = None,
    focus_country_numeric: str | None = None,
    all_countries: dict[str, tuple[str, str | None]] | None = None,
) -> MapView:
    """The choropleth. ``focus_region`` outlines (and zooms to) the countries of an M49 region,
    ``focus_country_numeric`` one country; ``all_countries`` maps numeric → (alpha-2, region)."""
    shapes = world_shapes()
    counts = {c.numeric: (c.count, c.name) for c in insights.countries}
    classes = map_classes([c.count for c in insights.countries])
    highlight: set[str] = set()
    highlighted = None
    if focus_region and all_countries is not None and tree.get(focus_region):
        codes = tree.subtree_codes(focus_region)
        highlight = {num for num, (_a2, reg) in all_countries.items() if reg in codes}
        from portal.partners.place_names import place_name

        highlighted = place_name(tree.get(focus_region).name)
    if focus_country_numeric:
        highlight = {focus_country_numeric}
    drawn = [c for c in insights.countries if c.numeric in shapes["by_numeric"]]
    not_drawn = len(insights.countries) - len(drawn)
    if insights.countries:
        top = insights.countries[:3]
        summary = ngettext(
            "%(count)s country has at least one agreement.",
            "%(count)s countries have at least one agreement.",
            len(insights.countries),
            count=fmt_int(len(insights.countries)),
        )
        summary += " " + _(
            "The most: %(list)s.",
            list=", ".join(f"{c.name} ({fmt_int(c.count)})" for c in top),
        )
        if not_drawn:
            summary += " " + ngettext(
                "%(count)s country is too small to draw at this scale; it is in the table.",
                "%(count)s countries are too small to draw at this scale; they are in the table.",
                not_drawn,
                count=fmt_int(not_drawn),
            )
    else:
        summary = _("No agreement names a country for these filters.")
    if highlighted:
        summary += " " + _("Outlined: %(region)s.", region=highlighted)
    title = _("Agreements by country")
    svg = world_map(
        counts,
        chart_id=f"{prefix}-map",
        title=title,
        desc=summary,
        classes=classes,
        highlight=highlight,
        zoom=bool(highlight) and (focus_region or focus_country_numeric) is not None,
    )
    regions = [(row.key, row.label, row.count) for row in insights.regions.rows]
    return MapView(
        svg=svg,
        summary=summary,
        classes=classes,
        countries=insights.countries,
        regions=regions,
        not_drawn=not_drawn,
        highlighted=highlighted,
    )


def build_picture(
    insights: Insights,
    tree: RegionTree,
    prefix: str = "chart",
    *,
    with_map: bool = True,
    focus_region: str | None = None,
    focus_country_numeric: str | None = None,
    all_countries: dict[str, tuple[str, str | None]] | None = None,
) -> Picture:
    picture = Picture(insights)
    picture.panels = [build_panel(b, insights, prefix) for b in insights.breakdowns]
    if with_map:
        picture.map = build_map(
            insights,
            tree,
            prefix,
            focus_region=focus_region,
            focus_country_numeric=focus_country_numeric,
            all_countries=all_countries,
        )
    return picture
