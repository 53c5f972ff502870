"""The typer application object every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

#: `--calibration FILE`, declared by every command that prices steps; read by
#: `cli.loader.flag_calibration`, once, for all of them.
CalibrationOpt = Annotated[str | None, typer.Option(
    "--calibration", metavar="FILE",
    help="A calibration file (inferplan calibrate): price every step with its measured "
         "ratios and fixed costs (overrides a scenario's calibration:)")]

app = typer.Typer(
    name="inferplan",
    help="Plan LLM inference deployments from first principles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"inferplan {version('inferplan')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option(
        "--version", help="Print the package version and exit", is_eager=True,
        callback=_print_version)] = False,
) -> None:
    """Plan LLM inference deployments from first principles."""
