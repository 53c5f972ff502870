"""Refresh the outputs pasted in docs/buckets.md after the bucket or cost model changes.

    .venv/bin/python tools/update_buckets_doc.py            # rewrite docs/buckets.md in place
    .venv/bin/python tools/update_buckets_doc.py --check    # exit 1 and show diffs if stale
    .venv/bin/python tools/update_buckets_doc.py docs/x.md  # another doc with the same blocks

The same machinery as tools/update_walkthrough.py (tools/walkthrough.py): every
```console block that starts with `$ inferplan ...` and every ```python block followed
by a ```text block is rerun at 120 columns without colour; the prose is not touched, so
reread the lines around a changed block (the figures the text quotes come from those
blocks).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.update_walkthrough import main as update_main
from tools.walkthrough import ROOT

DOC = ROOT / "docs" / "buckets.md"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(not a.startswith("-") for a in args):
        args.append(str(DOC))
    return update_main(args)


if __name__ == "__main__":
    sys.exit(main())
