"""``python -m neonhub_nb.connectors``: the connector table, or the README block refreshed.

python -m neonhub_nb.connectors                       # status of the 17 connectors
python -m neonhub_nb.connectors --env-table           # the README block, to stdout
python -m neonhub_nb.connectors --write-readme README.md
"""

from __future__ import annotations

import argparse
import sys

from ..config import load_settings
from .registry import connector_status, env_table_markdown, update_readme

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neonhub_nb.connectors")
    parser.add_argument("--env-table", action="store_true", help="print the README env table")
    parser.add_argument("--write-readme", metavar="PATH", help="refresh the block in PATH")
    args = parser.parse_args(argv)
    if args.write_readme:
        changed = update_readme(args.write_readme)
        print(f"{args.write_readme}: {'updated' if changed else 'already up to date'}")
        return 0
    if args.env_table:
        sys.stdout.write(env_table_markdown())
        return 0
    for row in connector_status(load_settings()):
        missing = ", ".join(row["missing"]) or "-"
        present = "yes" if row["credentials_present"] else "no"
        print(
            f"{row['name']:<11} {row['transport']:<6} credentials: {present:<3} missing: {missing}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
