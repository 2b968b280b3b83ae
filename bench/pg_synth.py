"""A synthetic team store of any size, generated inside PostgreSQL (for the benchmarks).

The PostgreSQL twin of ``neonhub_nb.synth``: the same distributions (intents and their
weights, statuses, log-normal durations, modes, experiments, one LLM call with a
3-6 KB article and 1-8 connector calls a run, 2% rate limited, metrics, drafts and their
review states), written with set-based SQL over ``generate_series`` in one transaction,
then the dashboard's roll-ups built and the tables analysed. Every random choice is a
hash of ``(row, purpose, seed)`` (``hashtextextended``), so the same seed gives the same
rows. The rows are not DuckDB's (the hash functions differ), only distributed alike.

    generate_pg_store(con, 1_000_000)     # con: a psycopg connection, migrated
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from neonhub_nb.store.pg.rollups import create_rollups
from neonhub_nb.synth import _WORDS, SYNTH_CONNECTORS, SYNTH_END, SYNTH_INTENTS

__all__ = ["generate_pg_store"]

_MASK52 = (1 << 52) - 1


def _u(purpose: str, index: str = "i") -> str:
    """SQL for a uniform number in [0, 1) fixed by the row, the purpose and the seed."""
    return (
        f"((hashtextextended(({index})::text || ':{purpose}', %(seed)s) & {_MASK52})::float8"
        f" / {float(_MASK52 + 1)!r})"
    )


def _pick(purpose: str, n: int, index: str = "i") -> str:
    kind = "int" if n < 2**31 else "bigint"
    hashed = f"hashtextextended(({index})::text || ':{purpose}', %(seed)s)"
    return f"(({hashed} & {_MASK52}) %% {n})::{kind}"


def generate_pg_store(
    con: Any, runs: int, seed: int = 0, days: int = 30, *, end: datetime = SYNTH_END
) -> None:
    """Fill the empty, migrated team store behind ``con`` with ``runs`` synthetic runs over
    ``days`` days ending at ``end`` (naive UTC), build the roll-ups, then ANALYZE.

    ``con`` must be in autocommit mode (VACUUM runs outside a transaction).
    """
    if not con.autocommit:
        raise ValueError("generate_pg_store: needs a connection in autocommit mode")
    args = {"seed": int(seed), "n": int(runs), "span": int(days) * 86400, "end": end}
    with con.transaction():
        con.execute("SET LOCAL synchronous_commit = off")
        con.execute("SET LOCAL work_mem = '256MB'")
        _fill(con, args)
        create_rollups(con)
    # The visibility map lets index-only scans skip the heap; the statistics guide plans.
    con.execute("VACUUM ANALYZE")


def _fill(con: Any, args: dict[str, Any]) -> None:
    total = sum(weight for _, _, weight, *_ in SYNTH_INTENTS)
    intents, cum = [], 0
    for k, (agent, intent, weight, median, spread, low, high) in enumerate(SYNTH_INTENTS):
        intents.append(
            f"({k}, '{agent}', '{intent}', {median}, {spread}, {low}, {high}, {cum}, "
            f"{cum + weight}, {total})"
        )
        cum += weight
    con.execute(
        f"""CREATE TEMP TABLE synth_intents ON COMMIT DROP AS
            SELECT * FROM (VALUES {", ".join(intents)})
              t(k, agent, intent, median, spread, low, high, cum_from, cum_to, total)"""
    )
    connectors = ", ".join(f"({k}, '{s}', '{o}')" for k, (s, o) in enumerate(SYNTH_CONNECTORS))
    con.execute(
        f"""CREATE TEMP TABLE synth_connectors ON COMMIT DROP AS
            SELECT * FROM (VALUES {connectors}) t(k, service, operation)"""
    )
    # A pool of paragraphs; each article joins several, so texts differ from run to run
    # and compress like prose.
    con.execute(
        f"""CREATE TEMP TABLE synth_pool ON COMMIT DROP AS
            SELECT p, (SELECT string_agg(
                         (%(words)s::text[])[1 + {_pick("w", len(_WORDS), "p * 1000 + j")}],
                         ' ' ORDER BY j)
                      FROM generate_series(0, 59 + {_pick("plen", 60, "p")}) j) || '.' AS txt
            FROM generate_series(0, 999) p""",
        {**args, "words": list(_WORDS)},
    )
    con.execute("ALTER TABLE synth_pool ADD PRIMARY KEY (p)")
    con.execute(
        f"""CREATE TEMP TABLE synth_runs ON COMMIT DROP AS
        WITH base AS (
          SELECT i,
                 %(end)s::timestamp AT TIME ZONE 'UTC'
                   - make_interval(secs => (%(n)s - i)::float8 * %(span)s
                                           / greatest(%(n)s, 1)) AS started_at,
                 {_u("intent")} AS u_intent, {_u("status")} AS u_status,
                 {_u("d1")} AS u1, {_u("d2")} AS u2, {_u("exp")} AS u_exp,
                 {_u("mode")} AS u_mode, {_u("ntools")} AS u_tools
          FROM generate_series(0, %(n)s - 1) i
        )
        SELECT b.i, b.started_at, s.agent, s.intent,
               'run_' || lpad(to_hex((extract(epoch FROM b.started_at) * 1000)::bigint), 12, '0')
                 || lpad(to_hex({_pick("id", 1 << 40, "b.i")}::bigint), 10, '0') AS run_id,
               CASE WHEN b.i >= %(n)s - greatest(%(n)s / 1000, 1) THEN 'running'
                    WHEN b.u_status < 0.07 THEN 'failed'
                    WHEN b.u_status < 0.085 THEN 'abandoned'
                    ELSE 'succeeded' END AS status,
               -- log-normal duration: Box-Muller on two hashed uniforms
               1000 * s.median * exp(s.spread * sqrt(-2 * ln(greatest(b.u1, 1e-12)))
                                     * cos(2 * pi() * b.u2)) AS natural_ms,
               CASE WHEN b.u_exp < 0.2
                    THEN 'exp_' || lpad({_pick("expid", 50, "b.i")}::text, 3, '0') END
                 AS experiment_id,
               CASE WHEN b.u_mode < 0.7 THEN 'mock' ELSE 'live' END AS mode,
               s.low + floor(b.u_tools * (s.high - s.low + 1))::int AS n_connector_calls
        FROM base b JOIN synth_intents s
          ON b.u_intent * s.total >= s.cum_from AND b.u_intent * s.total < s.cum_to""",
        args,
    )
    con.execute(
        """INSERT INTO agent_runs (run_id, agent, intent, status, mode, started_at, finished_at,
               duration_ms, input, output, error, model, prompt_name, prompt_version,
               experiment_id, campaign, variant, redacted_fields, writer_id)
        SELECT run_id, agent, intent, status, mode, started_at,
               CASE WHEN status = 'running' THEN NULL
                    ELSE started_at + make_interval(secs => natural_ms / 1000) END,
               CASE WHEN status IN ('succeeded', 'failed') THEN natural_ms END,
               jsonb_build_object('topic', 'Synthetic topic ' || (i %% 997),
                                  'primary_keyword', 'keyword ' || (i %% 211)),
               CASE WHEN status = 'succeeded' THEN jsonb_build_object('words', 400 + i %% 900)
                    ELSE '{}'::jsonb END,
               CASE WHEN status = 'failed' THEN 'LLMError: synthetic failure'
                    WHEN status = 'abandoned'
                      THEN 'abandoned: the process that ran it exited before finishing' END,
               'gpt-4o-mini', intent, 'v1', experiment_id, NULL,
               CASE WHEN experiment_id IS NOT NULL
                    THEN CASE WHEN i %% 2 = 0 THEN 'A' ELSE 'B' END END,
               '[]'::jsonb, 'synthetic'
        FROM synth_runs""",
        args,
    )
    # Paragraphs by key from a table: indexing a large array would copy it every time.
    article = (
        "(SELECT string_agg(sp.txt, E'\\n\\n' ORDER BY k) FROM generate_series(0, 5 + "
        + _pick("plen", 5, "r.i")
        + ") k JOIN synth_pool sp ON sp.p = "
        + _pick("para", 1000, "r.i * 16 + k")
        + ")"
    )
    con.execute(
        f"""INSERT INTO tool_executions (execution_id, run_id, seq, tool, operation, status,
               started_at, duration_ms, request, response, error)
        SELECT 'tex_' || substr(r.run_id, 5) || '00', r.run_id, 1, 'llm', 'chat.completions',
               CASE WHEN r.status = 'failed' THEN 'failed' ELSE 'succeeded' END,
               r.started_at, least(r.natural_ms * 0.8, 120000),
               jsonb_build_object('model', 'gpt-4o-mini', 'temperature', 0.7,
                 'messages', jsonb_build_array(jsonb_build_object('role', 'user',
                   'content', 'Write about keyword ' || (r.i %% 211)))),
               CASE WHEN r.status = 'failed' THEN '{{}}'::jsonb
                    ELSE jsonb_build_object('text', {article}, 'model', 'gpt-4o-mini',
                           'finish_reason', 'stop',
                           'rate_limited', CASE WHEN {_u("llm429", "r.i")} < 0.01
                                                THEN 1 ELSE 0 END) END,
               CASE WHEN r.status = 'failed' THEN 'LLMError: synthetic failure' END
        FROM synth_runs r""",
        args,
    )
    con.execute(
        f"""INSERT INTO tool_executions (execution_id, run_id, seq, tool, operation, status,
               started_at, duration_ms, request, response, error)
        WITH calls AS (
          SELECT r.run_id, r.started_at, r.natural_ms, r.n_connector_calls, j,
                 hashtextextended(r.i::text || ':call:' || j, %(seed)s) & {_MASK52} AS h
          FROM synth_runs r, generate_series(0, 7) j WHERE j < r.n_connector_calls
        )
        SELECT 'tex_' || substr(c.run_id, 5) || lpad((c.j + 1)::text, 2, '0'),
               c.run_id, c.j + 2, 'connector.' || k.service, k.operation,
               CASE WHEN (c.h >> 8) %% 100 < 3 THEN 'failed' ELSE 'succeeded' END,
               c.started_at + make_interval(secs => c.natural_ms * (c.j + 1)
                                                    / (c.n_connector_calls + 2) / 1000),
               20 + (c.h >> 16) %% 900,
               jsonb_build_object('service', k.service, 'operation', k.operation),
               CASE WHEN (c.h >> 24) %% 100 < 2
                      THEN jsonb_build_object('rate_limited', true,
                                              'retry_after_s', 1 + (c.h >> 32) %% 30)
                    ELSE jsonb_build_object('ok', true, 'items', (c.h >> 40) %% 50) END,
               CASE WHEN (c.h >> 8) %% 100 < 3 THEN 'ConnectorError: synthetic failure' END
        FROM calls c JOIN synth_connectors k ON k.k = c.h %% {len(SYNTH_CONNECTORS)}""",
        args,
    )
    con.execute(
        f"""INSERT INTO agent_run_metrics (run_id, name, value, unit)
        WITH m AS (
          SELECT r.run_id, r.status, r.n_connector_calls,
                 200 + {_pick("pt", 400, "r.i")}::float8 AS prompt_tokens,
                 CASE WHEN r.status = 'succeeded' THEN 600 + {_pick("ct", 900, "r.i")}::float8
                      ELSE 0 END AS completion_tokens,
                 {_u("breaker", "r.i")} AS u_breaker
          FROM synth_runs r WHERE r.status IN ('succeeded', 'failed')
        )
        SELECT run_id, v.name, v.value, v.unit FROM m, LATERAL (VALUES
            ('prompt_tokens', prompt_tokens, 'tokens'),
            ('completion_tokens', completion_tokens, 'tokens'),
            ('total_tokens', prompt_tokens + completion_tokens, 'tokens'),
            ('cost_usd', round(((prompt_tokens * 0.15 + completion_tokens * 0.6) / 1e6)::numeric,
                               10)::float8, 'USD'),
            ('tool_calls', (n_connector_calls + 1)::float8, 'calls')
        ) v(name, value, unit)
        UNION ALL
        SELECT run_id, 'breaker_failures', 1 + floor(u_breaker * 3), 'failures'
        FROM m WHERE status = 'failed' AND u_breaker < 0.5""",
        args,
    )
    con.execute(
        """INSERT INTO content_drafts (draft_id, run_id, title, content, metadata, status,
               created_at, updated_at, topic, primary_keyword)
        SELECT 'draft_' || substr(t.run_id, 5), t.run_id, 'Synthetic article ' || (r.i %% 997),
               t.response->>'text', jsonb_build_object('word_count', 400 + r.i %% 900),
               CASE WHEN r.i %% 10 < 6 THEN 'draft' WHEN r.i %% 10 < 9 THEN 'approved'
                    ELSE 'rejected' END,
               r.started_at, r.started_at, 'Synthetic topic ' || (r.i %% 997),
               'keyword ' || (r.i %% 211)
        FROM synth_runs r JOIN tool_executions t ON t.run_id = r.run_id AND t.seq = 1
        WHERE r.intent = 'content.generate_article' AND r.status = 'succeeded'""",
        args,
    )
