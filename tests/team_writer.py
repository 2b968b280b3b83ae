"""One analyst's process on a simulated machine of a team store: records mock runs.

Usage: python tests/team_writer.py RUNS [PAUSE_S]

The store comes from the environment as for any analyst (``NEONHUB_DB`` a
``postgresql://`` URL, ``NEONHUB_SPOOL_DIR`` the machine's spool). Each run goes
through ``run_agent`` (mock mode) and its id is printed once the call has returned, that
is once the run is durable in the machine's spool. ``PAUSE_S`` seconds pass between
runs. Anything the analyst would see besides the ids (a warning, a traceback) goes to
stderr, which the tests require to be empty.
"""

from __future__ import annotations

import sys
import time

from neonhub_nb import DraftParams, run_agent
from neonhub_nb.config import load_settings
from neonhub_nb.store import open_store


def main() -> None:
    runs = int(sys.argv[1])
    pause = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    settings = load_settings()
    store = open_store(settings, ingest_interval=0.05)
    for index in range(runs):
        params = DraftParams(topic=f"topic {index}", primary_keyword="kw", word_count=60)
        result = run_agent("content.generate_article", params, store=store, settings=settings)
        print(result.run_id, flush=True)
        if pause:
            time.sleep(pause)
    store.close(timeout=30)


if __name__ == "__main__":
    main()
