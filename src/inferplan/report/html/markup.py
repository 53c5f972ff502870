"""The HTML pieces every section uses: an escaped table, a plotly figure as a `<div>`
(the page embeds plotly.js once), a paragraph. Only what plotly emits is JavaScript."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from html import escape
from typing import Any

#: A table cell: text, escaped when rendered; a number is right-aligned.
Cell = str | int | float


def paragraph(text: str, css_class: str = "") -> str:
    """`<p>` of escaped text."""
    attr = f' class="{css_class}"' if css_class else ""
    return f"<p{attr}>{escape(text)}</p>"


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], caption: str = "",
          numeric: Collection[int] | None = None, css_class: str = "") -> str:
    """An HTML table of escaped cells; the columns in `numeric` (default: all but the
    first) are right-aligned figures, the others left-aligned names. A cell holding
    newlines keeps them as line breaks."""
    figures = set(range(1, len(headers)) if numeric is None else numeric)

    def cell(tag: str, value: Cell, k: int) -> str:
        align = ' class="num"' if k in figures else ""
        text = "<br>".join(escape(line) for line in str(value).split("\n"))
        return f"<{tag}{align}>{text}</{tag}>"

    head = "".join(cell("th", h, k) for k, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", v, k) for k, v in enumerate(row)) + "</tr>"
                   for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    attr = f' class="{css_class}"' if css_class else ""
    return f"<table{attr}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(fig: Any, div_id: str, height_px: int = 420) -> str:
    """A plotly figure as a `<div>` and the `Plotly.newPlot` call plotly writes for it,
    without plotly.js (the page's `<head>` holds it once)."""
    fig.update_layout(height=height_px, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                            default_height=f"{height_px}px",
                            config={"displaylogo": False, "responsive": True})
    return f'<div class="figure">{html}</div>'
