"""A writer process for the multi-process store tests: records N mock runs, prints ids.

Usage: python tests/writer_process.py DB_PATH N [--hang-after K]
With --hang-after K it starts run K+1 and then sleeps forever inside the agent (so a
test can kill -9 it mid-run).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from neonhub_nb import DraftParams
from neonhub_nb.config import load_settings
from neonhub_nb.models import RunRequest
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.store import AuditStore


class _HangingLLM:
    provider = "hang"

    def complete(self, *args: object, **kwargs: object) -> object:
        print("HANGING", flush=True)
        time.sleep(3600)
        raise AssertionError("unreachable")


def main() -> None:
    db, count = Path(sys.argv[1]), int(sys.argv[2])
    hang_after = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--hang-after" else None
    settings = load_settings({"NEONHUB_DB": str(db)})
    store = AuditStore.from_settings(settings, ingest_interval=0.05)
    orchestrator = build_orchestrator(settings, store=store)
    for index in range(count):
        if hang_after is not None and index == hang_after:
            orchestrator.llm = _HangingLLM()  # type: ignore[assignment]
        result = orchestrator.run(
            RunRequest(
                intent="content.generate_article",
                params=DraftParams(topic=f"topic {index}", primary_keyword="kw", word_count=60),
            )
        )
        print(result.run_id, flush=True)
    store.close()


if __name__ == "__main__":
    main()
