"""Helpers shared by the live-mode tests (fault server and real model server)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neonhub_nb.clock import FakeClock
from neonhub_nb.config import Settings, load_settings
from neonhub_nb.llm.live import OpenAILLM
from neonhub_nb.runtime import default_runtime

__all__ = ["SleepLog", "live_llm", "live_settings", "reset_live_state"]

MESSAGES = [{"role": "user", "content": "Write one short sentence about newsletters."}]


def reset_live_state() -> None:
    """The process's runtime (shared clients, breakers, limiters, spend, prices) back to new.

    Ports are reused by the OS, so a later test's server can have an earlier one's
    endpoint: without this, it would inherit its breakers and pooled connections.
    """
    default_runtime().reset()


def live_settings(url: str, tmp_path: Path, **env: str) -> Settings:
    return load_settings(
        {
            "NEONHUB_MODE": "live",
            "OPENAI_BASE_URL": url,
            "NEONHUB_MODEL": "fault-model",
            "NEONHUB_DB": str(tmp_path / "store" / "neonhub.duckdb"),
            "NEONHUB_LLM_TIMEOUT_S": "2",
            **env,
        }
    )


class SleepLog(FakeClock):
    """A fake clock that remembers every sleep: backoff is checked, never waited for."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@contextmanager
def live_llm(
    url: str, tmp_path: Path, clock: SleepLog | None = None, **env: str
) -> Iterator[OpenAILLM]:
    clock = clock or SleepLog()
    llm = OpenAILLM.from_settings(
        live_settings(url, tmp_path, **env), clock=clock, async_sleep=clock.async_sleep
    )
    try:
        yield llm
    finally:
        llm.close()
