"""Replay mode: re-execute recorded runs with the model's and the vendors' answers served
from the audit store instead of the network.

Every live run already records its LLM calls (request and response) and, for live
connectors, every HTTP exchange. Replay indexes them by *normalised request* and serves
them back: the agent code runs unchanged, over a replay LLM and an httpx transport that
answer from the index. A request that was never recorded raises
:class:`~neonhub_nb.errors.ReplayMissError` naming the closest recorded request and what
differed, so a replay is a strict, deterministic regression test of a live session.

This module holds the recordings' side (the index, the replay model client, replay
connectors). The orchestrator wires them in when the mode table says ``replay``; the
entry points :func:`neonhub_nb.replay_run` and :func:`neonhub_nb.replay_experiment` live
in ``neonhub_nb.api``.

>>> replay_run("run_01a2...")          # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from .clock import Clock
from .config import Settings
from .connectors.registry import ConnectorCatalog, ConnectorFactory, connector_factory
from .errors import ReplayMissError
from .llm import Completion, Messages, TokenCallback
from .redact import Redactor
from .store.base import Store

__all__ = ["PinnedClock", "ReplayIndex", "ReplayLLM", "replay_connectors", "replay_transport"]


# Runs recorded before model_mode/connectors_mode existed only say "mode".
_LIVE_MODEL = "coalesce(r.model_mode, r.mode) = 'live'"
_LIVE_CONNECTORS = "coalesce(r.connectors_mode, r.mode) = 'live'"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def llm_key(request: Mapping[str, Any]) -> str:
    """The normalised form of an LLM request: what must match for a recorded answer."""
    return _canonical(
        {k: request.get(k) for k in ("model", "messages", "temperature", "seed", "max_tokens")}
    )


def _normal_body(body: str) -> str:
    try:
        return _canonical(json.loads(body))
    except ValueError:
        return body


def http_key(service: str, method: str, url: str, body: str) -> str:
    return _canonical([service, method.upper(), url, _normal_body(body)])


@dataclass
class ReplayIndex:
    """Recorded answers by normalised request; repeated requests replay in recorded order."""

    llm: dict[str, deque[dict[str, Any]]] = field(default_factory=lambda: defaultdict(deque))
    http: dict[str, deque[dict[str, Any]]] = field(default_factory=lambda: defaultdict(deque))
    llm_requests: list[dict[str, Any]] = field(default_factory=list)
    http_requests: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def from_store(
        cls,
        store: Store,
        *,
        run_ids: Sequence[str] | None = None,
        experiment_id: str | None = None,
    ) -> ReplayIndex:
        """Index what live runs of ``store`` recorded (or only ``run_ids`` / one experiment):
        model answers of runs whose model was live, HTTP exchanges of runs whose
        connectors were live."""
        where: list[str] = [f"({_LIVE_MODEL} OR {_LIVE_CONNECTORS})"]
        params: list[Any] = []
        if run_ids is not None:
            where.append(f"r.run_id IN ({', '.join('?' for _ in run_ids)})")
            params.extend(run_ids)
        if experiment_id is not None:
            where.append("r.experiment_id = ?")
            params.append(experiment_id)
        rows = store.sql(
            f"""SELECT t.tool, t.request, t.response,
                       {_LIVE_MODEL} AS live_model, {_LIVE_CONNECTORS} AS live_connectors
                FROM tool_executions t
                JOIN agent_runs r USING (run_id)
                WHERE {" AND ".join(where)} AND (t.tool = 'llm' OR t.tool LIKE 'connector.%')
                ORDER BY r.started_at, t.run_id, t.seq""",
            params,
        )
        index = cls()
        for row in rows.to_dict("records"):
            request = json.loads(row["request"]) if row["request"] else {}
            response = json.loads(row["response"]) if row["response"] else {}
            if row["tool"] == "llm":
                if row["live_model"] and "text" in response:
                    index.llm[llm_key(request)].append(response)
                    index.llm_requests.append(request)
            elif row["live_connectors"]:
                service = row["tool"].removeprefix("connector.")
                for exchange in response.get("http", []):
                    key = http_key(service, exchange["method"], exchange["url"], exchange["body"])
                    index.http[key].append(exchange)
                    index.http_requests[service].append(exchange)
        return index

    def take(self, table: dict[str, deque[dict[str, Any]]], key: str) -> dict[str, Any] | None:
        answers = table.get(key)
        if not answers:
            return None
        # The last recorded answer keeps serving once earlier ones are used up.
        return answers.popleft() if len(answers) > 1 else answers[0]


def _difference(expected: str, actual: str, label: str) -> str:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            f"recorded {label}",
            f"requested {label}",
            lineterm="",
            n=1,
        )
    )
    return "\n".join(lines[:40])


def _explain_llm_miss(index: ReplayIndex, request: Mapping[str, Any]) -> str:
    if not index.llm_requests:
        return "no LLM call was recorded in live mode for this replay source"

    def score(candidate: Mapping[str, Any]) -> float:
        return difflib.SequenceMatcher(None, _canonical(candidate), _canonical(request)).ratio()

    closest = max(index.llm_requests, key=score)
    parts = []
    for field_name in ("model", "temperature", "seed", "max_tokens"):
        if closest.get(field_name) != request.get(field_name):
            parts.append(
                f"{field_name}: recorded {closest.get(field_name)!r}, "
                f"requested {request.get(field_name)!r}"
            )
    recorded, asked = closest.get("messages") or [], request.get("messages") or []
    for i in range(max(len(recorded), len(asked))):
        before = recorded[i] if i < len(recorded) else {}
        after = asked[i] if i < len(asked) else {}
        if before != after:
            parts.append(
                f"messages[{i}] ({after.get('role') or before.get('role')}):\n"
                + _difference(before.get("content", ""), after.get("content", ""), f"messages[{i}]")
            )
            break
    return "; ".join(parts[:4]) if parts else "the request differs from every recorded one"


class ReplayLLM:
    """An LLM client that answers from recorded live calls, streaming them like a model."""

    provider = "replay"

    def __init__(self, index: ReplayIndex) -> None:
        self.index = index

    def complete(
        self,
        messages: Messages,
        *,
        model: str,
        temperature: float = 0.7,
        seed: int | None = None,
        max_tokens: int | None = None,
        on_token: TokenCallback | None = None,
        **_: Any,
    ) -> Completion:
        request = {
            "model": model,
            "messages": [dict(m) for m in messages],
            "temperature": temperature,
            "seed": seed,
            "max_tokens": max_tokens,
        }
        answer = self.index.take(self.index.llm, llm_key(request))
        if answer is None:
            raise ReplayMissError(
                f"replay: this LLM request was never recorded; "
                f"{_explain_llm_miss(self.index, request)}"
            )
        text = str(answer["text"])
        if on_token is not None:
            for chunk in re.findall(r"\S+\s*", text):
                on_token(chunk)
        usage = answer.get("usage") or {}
        return Completion(
            text=text,
            model=str(answer.get("model") or model),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=answer.get("finish_reason"),
            usage_source="response" if usage.get("source", "response") == "response" else "counted",
        )


def replay_transport(index: ReplayIndex, service: str, redactor: Redactor) -> httpx.MockTransport:
    """An httpx transport answering ``service``'s requests from recorded exchanges."""

    def handle(request: httpx.Request) -> httpx.Response:
        # Recorded URLs and bodies were redacted; redact the live request the same way.
        url = redactor.text(str(request.url))
        body = redactor.text(request.content.decode("utf-8", "replace"))
        exchange = index.take(index.http, http_key(service, request.method, url, body))
        if exchange is None:
            recorded = index.http_requests.get(service, [])
            if not recorded:
                raise ReplayMissError(
                    f"replay: {service} {request.method} {urlsplit(url).path} was never recorded "
                    "(no live call to this service in the replay source)"
                )
            wanted = f"{request.method} {url}\n{_normal_body(body)}"
            closest = max(
                recorded,
                key=lambda e: difflib.SequenceMatcher(
                    None, f"{e['method']} {e['url']}\n{_normal_body(e['body'])}", wanted
                ).ratio(),
            )
            raise ReplayMissError(
                f"replay: {service} request never recorded:\n"
                + _difference(
                    f"{closest['method']} {closest['url']}\n{_normal_body(closest['body'])}",
                    wanted,
                    "request",
                )
            )
        return httpx.Response(
            exchange["status"],
            headers=exchange.get("headers") or {},
            content=str(exchange["response"]).encode(),
            request=request,
        )

    return httpx.MockTransport(handle)


class PinnedClock:
    """Wall time that starts where the original run started, so date-relative requests
    (last 28 days ...) are the ones recorded; durations still use real time."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._origin = time.perf_counter()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.perf_counter() - self._origin)

    def monotonic(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def replay_connectors(
    settings: Settings,
    index: ReplayIndex,
    clock: Clock | None,
    catalog: ConnectorCatalog,
    redactor: Redactor | None = None,
) -> ConnectorFactory:
    """The connector factory of a replayed run.

    A service with recorded HTTP exchanges runs its live code over a replay transport
    (placeholder credentials: the recorded answers need no secrets); a service that ran on
    its mock during the recorded session (no exchanges) runs on the same deterministic
    mock again. Nothing reaches a vendor. ``redactor`` (the run's) cleans requests the way
    the store cleaned the recorded ones, and the connectors' records and errors.
    """
    redactor = redactor or Redactor.from_environ(settings.environ)

    def client_for(name: str) -> httpx.Client:
        return httpx.Client(transport=replay_transport(index, name, redactor))

    replayed = connector_factory(
        settings,
        transport="replay",
        clock=clock,
        client_for=client_for,
        catalog=catalog,
        redactor=redactor,
    )
    mocked = connector_factory(
        settings, transport="mock", clock=clock, catalog=catalog, redactor=redactor
    )

    def factory(name: str, instrument: Any = None) -> Any:
        recorded = bool(index.http_requests.get(name))
        return (replayed if recorded else mocked)(name, instrument)

    return factory
