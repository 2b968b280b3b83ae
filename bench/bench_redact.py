"""Redaction cost: the current redactor against the pattern redactor it replaced (or any
git ref's ``neonhub_nb/redact.py``).

    .venv/bin/python bench/bench_redact.py                 # against 8c1e255:neonhub_nb/redact.py
    .venv/bin/python bench/bench_redact.py --ref HEAD~5 --calls 3000

Payloads, each new on every call (so no cache helps either side):
  * a 600-word draft from the mock writer (text);
  * a tool execution as the store records it (a Search Console query: dict);
  * a run record of about 4 KB (input and output dicts, the draft inside);
and the same three with a GitHub token pasted in, which takes the slow path. Each is
redacted by a redactor with no known values and by one that knows 20 credentials (a
settings object with every connector configured).

Prints the median and p95 per call in microseconds and old/new ratios. Compare ratios:
absolute numbers move with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neonhub_nb.agents.content import write_article
from neonhub_nb.redact import Redactor

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ghp_" + "Bench0Fake1Token2Value3Abc4Def5Ghi6Jk"


#: The last commit whose ``neonhub_nb/redact.py`` is the pattern redactor (since 4ff2bf2
#: that file only re-exports ``neonhub_nb.redaction``).
OLD_REDACTOR_REF = "8c1e255"


def load_old(ref: str) -> types.ModuleType:
    """``neonhub_nb/redact.py`` as it is at git ``ref``, as a module."""
    source = subprocess.run(
        ["git", "show", f"{ref}:neonhub_nb/redact.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType(f"redact_at_{ref}")
    exec(compile(source, f"{ref}:neonhub_nb/redact.py", "exec"), module.__dict__)
    return module


def settings_secrets() -> dict[str, str]:
    """20 credentials shaped like the connectors' (what a fully configured install holds)."""
    names = [
        "OPENAI_API_KEY",
        "GMAIL_ACCESS_TOKEN",
        "TWILIO_AUTH_TOKEN",
        "SLACK_BOT_TOKEN",
        "STRIPE_SECRET_KEY",
        "WHATSAPP_ACCESS_TOKEN",
        "INSTAGRAM_ACCESS_TOKEN",
        "FACEBOOK_PAGE_ACCESS_TOKEN",
        "LINKEDIN_ACCESS_TOKEN",
        "X_ACCESS_TOKEN",
        "GOOGLE_ADS_ACCESS_TOKEN",
        "GOOGLE_ADS_DEVELOPER_TOKEN",
        "GA4_ACCESS_TOKEN",
        "GSC_ACCESS_TOKEN",
        "SHOPIFY_ACCESS_TOKEN",
        "DISCORD_BOT_TOKEN",
        "REDDIT_ACCESS_TOKEN",
        "TIKTOK_ACCESS_TOKEN",
        "YOUTUBE_ACCESS_TOKEN",
        "JUPYTER_TOKEN",
    ]
    return {name: f"bench-{i:02d}-" + "Xy7" * 12 for i, name in enumerate(names)}


def draft(i: int) -> str:
    brief = {
        "topic": f"Email marketing for bakeries, part {i}",
        "primary_keyword": "bakery newsletter",
        "tone": "friendly",
        "audience": "small bakery owners",
        "word_count": 600,
    }
    return write_article(brief, i)


def tool_execution(i: int, secret: str = "") -> dict[str, Any]:
    rows = [
        {
            "keys": [f"bakery newsletter {i} {k}"],
            "clicks": k * 3,
            "impressions": k * 41,
            "ctr": 0.073,
            "position": 4.2 + k,
        }
        for k in range(12)
    ]
    return {
        "execution_id": f"tex_{i:022d}",
        "run_id": f"run_{i:022d}",
        "seq": 2,
        "tool": "connector.gsc",
        "operation": "searchanalytics.query",
        "status": "succeeded",
        "request": {
            "method": "POST",
            "url": "https://www.googleapis.com/webmasters/v3/sites/https%3A%2F%2Fwww.example.com"
            "%2F/searchAnalytics/query",
            "body": {
                "startDate": "2026-01-01",
                "endDate": "2026-01-31",
                "rowLimit": 12,
                "dimensions": ["query"],
                "note": secret,
            },
        },
        "response": {"rows": rows, "responseAggregationType": "byProperty"},
        "error": None,
    }


def run_record(i: int, secret: str = "") -> dict[str, Any]:
    text = draft(i)[:3000] + (f" {secret}" if secret else "")
    return {
        "input": {
            "topic": f"Email marketing for bakeries, part {i}",
            "primary_keyword": "bakery newsletter",
            "audience": "small bakery owners",
            "tone": "friendly",
            "word_count": 600,
            "brief": "Write about growing a newsletter for a local bakery. " * 12,
        },
        "output": {"title": f"How to grow a bakery newsletter ({i})", "content": text},
    }


def measure(fn: Callable[[Any], Any], payloads: list[Any]) -> list[float]:
    for payload in payloads[:20]:  # warm up: compile caches, automata
        fn(payload)
    times = []
    for payload in payloads:
        start = time.perf_counter_ns()
        fn(payload)
        times.append((time.perf_counter_ns() - start) / 1000)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref", default=OLD_REDACTOR_REF, help="git ref of the old redactor")
    parser.add_argument("--calls", type=int, default=2000, help="calls per case")
    args = parser.parse_args(argv)
    old = load_old(args.ref)
    known = settings_secrets()
    redactors = {
        "no known values": (old.Redactor(), Redactor()),
        "20 known values": (
            old.Redactor.from_environ(known),
            Redactor.from_environ(known),
        ),
    }
    n = args.calls
    drafts = [draft(i) for i in range(n)]
    cases: dict[str, tuple[str, list[Any]]] = {
        "600-word draft (text)": ("text", drafts),
        "tool execution (dict)": ("dict", [tool_execution(i) for i in range(n)]),
        "4 KB run record (dict)": ("dict", [run_record(i) for i in range(n)]),
        "600-word draft + token": ("text", [d + f"\n\nKey: {TOKEN}" for d in drafts]),
        "tool execution + token": ("dict", [tool_execution(i, TOKEN) for i in range(n)]),
        "4 KB run record + token": ("dict", [run_record(i, TOKEN) for i in range(n)]),
    }
    sizes = {
        name: statistics.median(
            len(p) if kind == "text" else len(json.dumps(p)) for p in payloads[:50]
        )
        for name, (kind, payloads) in cases.items()
    }
    print(f"python {sys.version.split()[0]}; old = {args.ref}:neonhub_nb/redact.py; {n} calls")
    header = [
        "payload",
        "bytes",
        "known",
        "old p50 us",
        "new p50 us",
        "old p95",
        "new p95",
        "old/new p50",
    ]
    rows = []
    for name, (kind, payloads) in cases.items():
        for label, (old_r, new_r) in redactors.items():
            if kind == "text":
                old_t = measure(old_r.text, payloads)
                new_t = measure(new_r.text, payloads)
            else:
                old_t = measure(lambda p, r=old_r: r.redact(p, "x"), payloads)
                new_t = measure(lambda p, r=new_r: r.redact(p, "x"), payloads)
            o50, n50 = statistics.median(old_t), statistics.median(new_t)
            rows.append(
                [
                    name,
                    f"{sizes[name]:.0f}",
                    label,
                    f"{o50:.1f}",
                    f"{n50:.1f}",
                    f"{pct(old_t, 0.95):.1f}",
                    f"{pct(new_t, 0.95):.1f}",
                    f"{o50 / n50:.2f}x",
                ]
            )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        "\nold/new > 1 means the new redactor is faster. The old one finds neither the"
        " tokens of most formats nor secrets under new names: 'faster' compares cost, not"
        " coverage."
    )


if __name__ == "__main__":
    main()
