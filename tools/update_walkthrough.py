"""Refresh the outputs pasted in the walkthrough docs after the model changes.

    .venv/bin/python tools/update_walkthrough.py            # rewrite the docs in place
    .venv/bin/python tools/update_walkthrough.py --check    # exit 1 and show diffs if stale
    .venv/bin/python tools/update_walkthrough.py docs/x.md  # other docs with the same blocks

Every ```console block that starts with `$ inferplan ...` and every ```python block
followed by a ```text block is rerun (see tools/walkthrough.py); the prose is not
touched, so reread the lines around a changed block.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.walkthrough import DOCS, check, refresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", nargs="*", type=Path, help="Markdown files (default: "
                        + ", ".join(str(d.name) for d in DOCS) + ")")
    parser.add_argument("--check", action="store_true", help="only report stale blocks")
    args = parser.parse_args(argv)
    docs = [p.resolve() for p in args.docs] or list(DOCS)
    status = 0
    for doc in docs:
        if args.check:
            for stale in check(doc):
                print(stale.message(doc))
                status = 1
            continue
        text = doc.read_text(encoding="utf-8")
        new, changed = refresh(text)
        if new != text:
            doc.write_text(new, encoding="utf-8")
        for block in changed:
            print(f"refreshed {block.label(doc)}")
        print(f"{doc.name}: {len(changed)} block(s) refreshed")
    return status


if __name__ == "__main__":
    sys.exit(main())
