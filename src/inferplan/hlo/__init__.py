"""Communication checked against the compiler (`inferplan verify-sharding`): one layer
sharded with `jax.jit` and `NamedSharding` as each layout stores it (`program`),
compiled for N host CPU devices in a child process (`worker`), its collectives read
from the HLO text (`parse`) and set beside `partitioning.layout_plan`'s (`verify`).

JAX is an optional extra (`inferplan[jax]`), imported only inside `program`'s
`compile_layer`, which runs in the worker; nothing of the core imports this package.
"""

from inferplan.hlo.parse import HloCollective, parse_collectives, parse_replica_groups
from inferplan.hlo.program import Shape
from inferplan.hlo.verify import DEFAULT_SHAPES, VERIFY_LAYOUTS, Row, verify_sharding

__all__ = ["DEFAULT_SHAPES", "VERIFY_LAYOUTS", "HloCollective", "Row", "Shape",
           "parse_collectives", "parse_replica_groups", "verify_sharding"]
