"""The work of each `inferplan` command, imported only when that command runs.

`cli/commands_*.py` declare the commands (arguments, options, help) with nothing heavier
than typer imported, so `inferplan --help` and every command's `--help` start without
numpy, pydantic, the catalogs or the report renderers; each command's body imports its
module here and calls it with the parsed arguments.
"""
