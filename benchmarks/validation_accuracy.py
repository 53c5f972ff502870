"""Accuracy target of the performance model, printed by source and hardware.

On the bundled dev measurements, with `efficiency: realistic`, the median absolute
percentage error of the static-batch throughput and TTFT rows must be at most 15% on
every hardware kind in the file. Run by `make bench` (benchmarks/run_all.py).
"""

from __future__ import annotations

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.validate import (
    acceptance_cases,
    bundled_measurements_text,
    error_table,
    read_rows,
    run_validation,
)

TARGET_MEDIAN_APE = 0.15


def accuracy_report() -> bool:
    """Print the target table; True when every hardware kind meets the target."""
    cases, skipped = run_validation(read_rows(bundled_measurements_text()), catalog_model,
                                    catalog_chip)
    target = acceptance_cases(cases)
    print(f"validation: {len(target)} static-batch throughput/TTFT rows "
          f"({len(cases)} predicted, {len(skipped)} skipped), realistic efficiency")
    print(f"{'group':32} {'rows':>4} {'median':>8} {'p90':>8} {'bias':>8}  ok")
    ok_all = True
    for s in error_table(target):
        per_hw = "(all sources)" in s.group
        ok = s.median_ape <= TARGET_MEDIAN_APE
        ok_all &= ok or not per_hw
        flag = ("yes" if ok else "NO") if per_hw else ""
        print(f"{s.group:32} {s.rows:4d} {s.median_ape:8.1%} {s.p90_ape:8.1%} "
              f"{s.bias:+8.1%}  {flag}")
    return ok_all


if __name__ == "__main__":
    raise SystemExit(0 if accuracy_report() else 1)
