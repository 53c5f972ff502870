"""The report page: `template.html` filled with the sections, plotly.js inline once, a
table of contents. A page with no `<script src>` and no `<link>`: it opens offline."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from importlib import resources
from importlib.metadata import version
from string import Template


@dataclass(frozen=True)
class Section:
    """One part of the report: its anchor (`id`), its heading and its HTML body."""

    anchor: str
    title: str
    body: str


def plotly_js() -> str:
    """The plotly.js bundle of the installed plotly (about 4.8 MB), for an inline
    `<script>`; `</script` inside it is escaped so it cannot close the tag."""
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    js: str = get_plotlyjs()
    return js.replace("</script", "<\\/script")


def render_page(title: str, sections: list[Section]) -> str:
    """The whole HTML document."""
    template = Template((resources.files("inferplan.report.html") / "template.html")
                        .read_text(encoding="utf-8"))
    nav = "".join(f'<li><a href="#{escape(s.anchor)}">{escape(s.title)}</a></li>'
                  for s in sections)
    body = "\n".join(f'<section id="{escape(s.anchor)}"><h2>{escape(s.title)}</h2>\n'
                     f"{s.body}\n</section>" for s in sections)
    return template.substitute(title=escape(title), version=escape(version("inferplan")),
                               plotlyjs=plotly_js(), nav=nav, sections=body)
