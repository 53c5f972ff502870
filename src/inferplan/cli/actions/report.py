"""`inferplan report`: gather the results `estimate`, `simulate` and `search` produce
(through their own actions) and write them as one HTML page (`report.html`)."""

from __future__ import annotations

from rich.console import Console

from inferplan.cli.actions.estimate import fitting_estimate
from inferplan.cli.actions.search import SearchAnswer, search_answer
from inferplan.cli.actions.simulate import check_seed, simulate_scenario
from inferplan.cli.files import check_output_file, write_text
from inferplan.cli.loader import Source
from inferplan.report.html.document import Part, SearchResults, report_html
from inferplan.search.frontier import frontiers
from inferplan.units import InferplanError

DEFAULT_NAME = "the bundled default scenario"


def scenario_parts(path: str | None, simulate: bool, seed: int) -> list[Part]:
    """A scenario's estimate (refused, exit 2, when its batch does not fit) and, when
    asked, its simulation."""
    source: Source = path
    name = DEFAULT_NAME if path is None else path
    parts: list[Part] = [(name, fitting_estimate(source))]
    if simulate:
        parts.append((name, simulate_scenario(source, seed)))
    return parts


def search_results(answer: SearchAnswer) -> SearchResults:
    """What the report shows of `inferplan search`'s answer, and the space's frontiers."""
    return SearchResults(answer.result, [i for i, _ in answer.best],
                         answer.best[0][1] if answer.best else None,
                         frontiers(answer.result), answer.why, answer.resimulated)


def run_report(scenarios: list[str] | None, out: str, spaces: list[str] | None, top: int,
               simulate: bool, simulate_top_k: int, seed: int, title: str | None) -> None:
    check_seed(seed)
    check_output_file(out, "--out")
    if simulate_top_k and not spaces:
        raise InferplanError("--simulate-top", simulate_top_k, "only with --space")
    paths: list[str | None] = list(scenarios) if scenarios else ([] if spaces else [None])
    parts = [part for p in paths for part in scenario_parts(p, simulate, seed)]
    parts += [(s, search_results(search_answer(s, top, simulate_top_k)))
              for s in spaces or []]
    names = list(dict.fromkeys(name for name, _ in parts))
    html = report_html(title or "inferplan report: " + ", ".join(names), parts)
    write_text(out, html, "--out")
    Console().print(f"wrote {out} ({len(html.encode('utf-8')) / 1e6:.1f} MB): "
                    f"{len(paths)} scenario(s), {len(spaces or [])} space(s)"
                    + (", simulated" if simulate or simulate_top_k else ""),
                    highlight=False)
