"""Charts drawn on the server as SVG (pygal), embedded in the page with no script and no style.

The hub's Content-Security-Policy allows scripts only from the hub with the page's nonce and styles
only from the hub (`style-src 'self'`: no <style> element, no style attribute). pygal writes a
<script> (its config, even with `js=[]`, which only stops it loading its tooltip script from a CDN),
a <style> element and a few style attributes, so each SVG is cleaned here: scripts, styles, style
attributes and the (script-driven) tooltip are removed, and the chart's CSS, the same for every
chart, is served once from the hub (`chart_css`, /reports/charts.css) under the class `hub-chart`.
The figures are in a GOV.UK table under every chart as well; the chart is an image of them.

Drawing is ~10 ms a chart whatever the data (pygal's configuration machinery), 13 on the
dashboard, so each cleaned SVG is kept, a bounded number of them, by a hash of what it is drawn
from (`Drawing`: the kind, headline, labels, series names and values: counts, no person). The
same figures draw the same bytes, so a kept SVG is the one a fresh drawing would give.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import NamedTuple

# ElementTree only writes here (bandit B405); the parsing is defusedxml's, below.
from xml.etree import ElementTree  # nosec B405

import pygal
from defusedxml.ElementTree import fromstring
from markupsafe import Markup
from pygal.style import Style

from hub.reports.query import Figure

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
ElementTree.register_namespace("", SVG)
ElementTree.register_namespace("xlink", XLINK)

#: GOV.UK Design System colours, in an order that keeps neighbours distinguishable.
PALETTE = ("#1d70b8", "#f47738", "#00703c", "#d4351c", "#4c2c92", "#28a197", "#912b88", "#505a5f")
STYLE = Style(
    background="#ffffff", plot_background="#ffffff", foreground="#0b0c0c", foreground_strong="#0b0c0c",
    foreground_subtle="#505a5f", opacity="1", opacity_hover="1", colors=PALETTE,
    font_family="arial, sans-serif", label_font_size=14, major_label_font_size=14, legend_font_size=14,
    value_font_size=14, title_font_size=16)
_CHART_ID = re.compile(r"#chart-[0-9a-f-]{36}")
#: What pygal puts in an SVG that the CSP would block, or that needs its script.
_DROPPED_TAGS = {f"{{{SVG}}}script", f"{{{SVG}}}style"}

KINDS = {"bar": pygal.Bar, "stacked": pygal.StackedBar, "hbar": pygal.HorizontalBar}


def _config(**extra) -> dict:
    config = dict(js=[], style=STYLE, disable_xml_declaration=True, show_legend=True, legend_at_bottom=True,
                  print_values=False, width=800, height=400, explicit_size=False, margin=16,
                  truncate_label=-1, truncate_legend=-1, tooltip_border_radius=0)
    return config | extra


def _number(value) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Drawing(NamedTuple):
    """Everything a chart is drawn from: equal drawings give byte-identical SVG."""

    kind: str
    label: str
    x_labels: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]

    @classmethod
    def of(cls, figure: Figure) -> Drawing:
        return cls(figure.chart, figure.title, tuple(figure.label(row) for row in figure.rows),
                   tuple((figure.columns[i], tuple(_number(row[i]) for row in figure.rows)) for i in figure.plotted))

    def digest(self) -> str:
        # repr keeps the types apart (1 and 1.0 draw differently) and is stable across processes.
        return hashlib.sha256(repr(tuple(self)).encode()).hexdigest()


def _chart(drawing: Drawing):
    horizontal = drawing.kind == "hbar"
    chart = KINDS.get(drawing.kind, pygal.Bar)(**_config(
        show_legend=len(drawing.series) > 1, x_label_rotation=0 if horizontal or len(drawing.x_labels) < 8 else 30,
        min_scale=1, max_scale=6))
    chart.x_labels = list(drawing.x_labels)
    for name, values in drawing.series:
        chart.add(name, list(values))
    return chart


def draw(drawing: Drawing) -> str:
    """The chart's cleaned SVG, drawn afresh."""
    return _clean(_chart(drawing).render(is_unicode=True), drawing.label)


class KeptCharts:
    """The last `size` SVGs drawn, by the digest of their drawing (least recently used dropped)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._svg: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()  # a threaded worker's requests share the module

    def get(self, drawing: Drawing) -> str:
        key = drawing.digest()
        with self._lock:
            if key in self._svg:
                self._svg.move_to_end(key)
                return self._svg[key]
        svg = draw(drawing)
        with self._lock:
            self._svg[key] = svg
            while len(self._svg) > self.size:
                self._svg.popitem(last=False)
        return svg

    def __len__(self) -> int:
        return len(self._svg)

    def clear(self) -> None:
        with self._lock:
            self._svg.clear()


#: A few dashboards' charts (about 13 each, a few KB apiece).
KEPT = KeptCharts(size=256)


def _clean(svg: str, label: str) -> str:
    root = fromstring(svg)
    _strip(root)
    root.set("class", "hub-chart")
    root.attrib.pop("id", None)
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("focusable", "false")
    title = root.find(f"{{{SVG}}}title")
    if title is not None:
        title.text = label  # pygal's own says "Pygal"
    return ElementTree.tostring(root, encoding="unicode")


def _strip(element) -> None:
    for child in list(element):
        if child.tag in _DROPPED_TAGS or "tooltip" in (child.get("class") or "").split():
            element.remove(child)
        else:
            _strip(child)
    element.attrib.pop("style", None)


def render(figure: Figure) -> Markup:
    """The figure's chart as inline SVG, with no script, no style element and no style attribute."""
    if figure.chart == "none" or not figure.rows:
        return Markup("")
    # bandit B704: our own SVG, parsed by defusedxml and cleaned of scripts and handlers by _clean.
    return Markup(KEPT.get(Drawing.of(figure)))  # nosec B704


@lru_cache(maxsize=1)
def chart_css() -> str:
    """pygal's CSS for the charts, scoped to `.hub-chart` instead of one chart's id (served from
    the hub, so the CSP's style-src 'self' allows it). Drawn from a chart with enough series for
    every colour of the palette."""
    chart = pygal.Bar(**_config())
    for n in range(len(PALETTE)):
        chart.add(str(n), [1])
    svg = chart.render(is_unicode=True)
    css = "\n".join(re.findall(r"<style[^>]*>(.*?)</style>", svg, flags=re.S))
    css = _CHART_ID.sub(".hub-chart", css).replace("&gt;", ">")
    return css + "\n.hub-chart{width:100%;height:auto;max-width:800px}\n.hub-table-scroll{overflow-x:auto}\n" + GRID_CSS


#: Shades for the day-by-hour grid of the patterns page (classes, not style attributes).
GRID_CSS = "\n".join(
    f".hub-grid-{n}{{background:{colour};color:{'#ffffff' if n >= 3 else '#0b0c0c'}}}"
    for n, colour in enumerate(("#ffffff", "#d2e2f1", "#8eb8dc", "#5694ca", "#1d70b8", "#003078")))
