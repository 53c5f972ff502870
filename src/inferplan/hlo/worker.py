"""`python -m inferplan.hlo.worker`: read a JSON list of `LayerProgram` fields on stdin,
compile each with `program.compile_layer`, print the JSON list of HLO texts. Run by
`verify.compile_in_worker` with `XLA_FLAGS=--xla_force_host_platform_device_count=N` in
its environment, set before this process imports jax."""

from __future__ import annotations

import json
import sys

from inferplan.hlo.program import LayerProgram, compile_layer


def main() -> None:
    programs = [LayerProgram.from_dict(raw) for raw in json.loads(sys.stdin.read())]
    print(json.dumps([compile_layer(p)[0] for p in programs]))


if __name__ == "__main__":
    main()
