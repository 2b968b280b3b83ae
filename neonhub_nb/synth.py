"""Synthetic audit stores of any size, for benchmarks and dashboard demos.

``generate_synthetic_store(path, runs)`` writes ``runs`` agent runs with their tool
executions (one LLM call with a few-KB article, plus connector calls), metrics and drafts
straight into a new DuckDB file with set-based SQL, not through the spool one run at a
time: a million runs take about two minutes. Every random choice is a hash of
``(row, purpose, seed)``, not a random generator, so DuckDB's parallel execution cannot
change the outcome: the same ``seed`` gives the same rows.

>>> generate_synthetic_store("bench/cache/runs-10000.duckdb", 10_000)   # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from .errors import StoreError
from .store.rollups import create_rollups
from .store.schema import apply_migrations

__all__ = ["SYNTH_CONNECTORS", "SYNTH_END", "SYNTH_INTENTS", "generate_synthetic_store"]

# The fixed end of the synthetic time range: "now" would make two runs differ.
SYNTH_END = datetime(2026, 1, 1)

# (agent, intent, weight, median duration s, log-spread, connector calls (min, max))
SYNTH_INTENTS: tuple[tuple[str, str, int, float, float, int, int], ...] = (
    ("content", "content.generate_article", 35, 8.0, 0.6, 2, 5),
    ("content", "content.rewrite", 10, 4.0, 0.5, 1, 3),
    ("seo", "seo.audit_page", 12, 12.0, 0.7, 3, 7),
    ("seo", "seo.keyword_research", 8, 6.0, 0.6, 3, 6),
    ("email", "email.compose_campaign", 12, 5.0, 0.5, 2, 5),
    ("social", "social.schedule_post", 12, 3.0, 0.5, 3, 6),
    ("ads", "ads.optimize_budget", 6, 15.0, 0.8, 4, 8),
    ("insights", "insights.weekly_report", 5, 25.0, 0.7, 5, 8),
)

# (service, operation): the 17 connectors of the design, with one or two operations each.
SYNTH_CONNECTORS: tuple[tuple[str, str], ...] = (
    ("email", "send"), ("email", "list_messages"), ("sms", "send"),
    ("slack", "post_message"), ("stripe", "list_charges"), ("whatsapp", "send_message"),
    ("instagram", "publish_post"), ("instagram", "insights"), ("facebook", "publish_post"),
    ("linkedin", "share"), ("x", "post"), ("google_ads", "report"),
    ("google_ads", "update_budget"), ("ga4", "run_report"), ("gsc", "query"),
    ("shopify", "list_products"), ("discord", "send_message"), ("reddit", "submit"),
    ("tiktok", "upload"), ("youtube", "list_videos"),
)  # fmt: skip

_PROSE = (
    "audience campaign content conversion customer email engagement funnel growth "
    "headline insight keyword launch lead loyalty market message metric newsletter offer "
    "organic page plan post reach report revenue search segment social strategy "
    "subscriber test traffic trend value video visitor weekly brand budget channel click "
    "copy draft goal the a of to and for with your our that this is are can will more "
    "from how why what teams small local online seasonal simple proven practical "
    "measurable clear"
)
_WORDS = _PROSE.split()


def _u(purpose: str, index: str = "i") -> str:
    """SQL for a uniform number in [0, 1) fixed by the row, the purpose and the seed."""
    return f"(hash({index}, '{purpose}', getvariable('seed'))::DOUBLE / 18446744073709551616.0)"


def _pick(purpose: str, n: int, index: str = "i") -> str:
    return f"(hash({index}, '{purpose}', getvariable('seed')) % {n})::INTEGER"


def generate_synthetic_store(
    path: Path | str,
    runs: int,
    seed: int = 0,
    days: int = 30,
    *,
    end: datetime = SYNTH_END,
) -> Path:
    """Create a new audit store at ``path`` holding ``runs`` synthetic runs over ``days`` days.

    Statuses are about 91% succeeded, 7% failed, 1.5% abandoned, and the newest 0.1%
    still running; durations are log-normal per intent; 20% of runs belong to an
    experiment; each run has one LLM call (a 3-6 KB article) and 1-8 connector calls
    (about 5 tool executions a run), 2% of them rate limited. Breaker failures are recorded
    for half of the failed runs. Refuses to overwrite an existing file.
    """
    target = Path(path)
    if target.exists():
        raise StoreError(f"{target} already exists: synthetic stores are only written fresh")
    if runs < 0 or days <= 0:
        raise ValueError("runs must be >= 0 and days > 0")
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target))
    try:
        apply_migrations(con)
        con.execute("SET enable_progress_bar = false")
        con.execute("SET VARIABLE seed = ?", [int(seed)])
        con.execute("SET VARIABLE n_runs = ?", [int(runs)])
        con.execute("SET VARIABLE span_s = ?", [int(days) * 86400])
        con.execute("SET VARIABLE end_at = ?", [end])
        con.execute("BEGIN TRANSACTION")
        _fill(con)
        # Rows written in bulk here, not by ingestion: build the dashboard's cells from them.
        create_rollups(con)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        target.unlink(missing_ok=True)
        raise
    con.close()
    return target


def _fill(con: duckdb.DuckDBPyConnection) -> None:
    intents = ", ".join(
        f"({k}, '{agent}', '{intent}', {weight}, {median}, {spread}, {low}, {high})"
        for k, (agent, intent, weight, median, spread, low, high) in enumerate(SYNTH_INTENTS)
    )
    con.execute(
        f"""CREATE TEMP TABLE synth_intents AS
            SELECT *, sum(weight) OVER (ORDER BY k) - weight AS cum_from,
                   sum(weight) OVER (ORDER BY k) AS cum_to, sum(weight) OVER () AS total
            FROM (VALUES {intents}) t(k, agent, intent, weight, median, spread, low, high)"""
    )
    connectors = ", ".join(f"({k}, '{s}', '{o}')" for k, (s, o) in enumerate(SYNTH_CONNECTORS))
    con.execute(
        f"CREATE TEMP TABLE synth_connectors AS "
        f"SELECT * FROM (VALUES {connectors}) t(k, service, operation)"
    )
    # A pool of paragraphs; each article concatenates several, so texts differ run to run
    # and compress like prose rather than like one repeated string.
    con.execute(
        f"""CREATE TEMP TABLE synth_pool AS
            SELECT list(txt ORDER BY p) AS paragraphs FROM (
              SELECT p, array_to_string(list_transform(range(60 + {_pick("plen", 60, "p")}),
                       lambda j: (?::VARCHAR[])[1 + (hash(p, j, getvariable('seed')) % ?)::INT]),
                       ' ') || '.' AS txt
              FROM range(1000) t(p))""",
        [list(_WORDS), len(_WORDS)],
    )
    con.execute(
        f"""CREATE TEMP TABLE synth_runs AS
        WITH base AS (
          SELECT i,
                 getvariable('end_at') - to_seconds((getvariable('n_runs') - i)
                   * getvariable('span_s') / greatest(getvariable('n_runs'), 1)) AS started_at,
                 {_u("intent")} AS u_intent, {_u("status")} AS u_status,
                 {_u("d1")} AS u1, {_u("d2")} AS u2, {_u("exp")} AS u_exp, {_u("mode")} AS u_mode,
                 {_u("ntools")} AS u_tools
          FROM range(getvariable('n_runs')) t(i)
        )
        SELECT b.i, b.started_at, s.agent, s.intent, s.k AS intent_k,
               'run_' || lpad(printf('%x', epoch_ms(b.started_at)), 12, '0')
                 || lpad(printf('%x', hash(b.i, 'id', getvariable('seed'))
                                      % 1099511627776), 10, '0')
                 AS run_id,
               CASE WHEN b.i >= getvariable('n_runs') - greatest(getvariable('n_runs') // 1000, 1)
                      THEN 'running'
                    WHEN b.u_status < 0.07 THEN 'failed'
                    WHEN b.u_status < 0.085 THEN 'abandoned'
                    ELSE 'succeeded' END AS status,
               -- log-normal duration: Box-Muller on two hashed uniforms
               1000 * s.median * exp(s.spread * sqrt(-2 * ln(greatest(b.u1, 1e-12)))
                                     * cos(2 * pi() * b.u2)) AS natural_ms,
               CASE WHEN b.u_exp < 0.2
                    THEN 'exp_' || lpad(printf('%d', {_pick("expid", 50, "b.i")}), 3, '0')
                    END AS experiment_id,
               CASE WHEN b.u_mode < 0.7 THEN 'mock' ELSE 'live' END AS mode,
               s.low + floor(b.u_tools * (s.high - s.low + 1))::INTEGER AS n_connector_calls
        FROM base b JOIN synth_intents s
          ON b.u_intent * s.total >= s.cum_from AND b.u_intent * s.total < s.cum_to"""
    )
    con.execute(
        """INSERT INTO agent_runs BY NAME
        SELECT run_id, agent, intent, status, mode, started_at,
               CASE WHEN status = 'running' THEN NULL
                    ELSE started_at + to_microseconds((natural_ms * 1000)::BIGINT) END
                 AS finished_at,
               CASE WHEN status IN ('succeeded', 'failed') THEN natural_ms END AS duration_ms,
               json_object('topic', 'Synthetic topic ' || (i % 997),
                           'primary_keyword', 'keyword ' || (i % 211)) AS input,
               CASE WHEN status = 'succeeded' THEN json_object('words', 400 + i % 900)
                    ELSE json_object() END AS output,
               CASE WHEN status = 'failed' THEN 'LLMError: synthetic failure'
                    WHEN status = 'abandoned'
                      THEN 'abandoned: the process that ran it exited before finishing'
                    END AS error,
               'gpt-4o-mini' AS model, intent AS prompt_name, 'v1' AS prompt_version,
               experiment_id, NULL AS campaign,
               CASE WHEN experiment_id IS NOT NULL THEN CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END
                    END AS variant,
               '[]'::JSON AS redacted_fields, 'synthetic' AS writer_id
        FROM synth_runs"""
    )
    article = (
        "array_to_string(list_transform("
        "range(6 + (hash(r.i, 'plen', getvariable('seed')) % 5)::INT),"
        " lambda k: p.paragraphs[1 + (hash(r.i, k, getvariable('seed')) % 1000)::INT]),"
        " chr(10) || chr(10))"
    )
    con.execute(
        f"""INSERT INTO tool_executions BY NAME
        SELECT 'tex_' || substr(r.run_id, 5) || '00' AS execution_id, r.run_id, 1 AS seq,
               'llm' AS tool, 'chat.completions' AS operation,
               CASE WHEN r.status = 'failed' THEN 'failed' ELSE 'succeeded' END AS status,
               r.started_at, least(r.natural_ms * 0.8, 120000) AS duration_ms,
               json_object('model', 'gpt-4o-mini', 'temperature', 0.7,
                           'messages', json_array(json_object('role', 'user',
                             'content', 'Write about keyword ' || (r.i % 211)))) AS request,
               CASE WHEN r.status = 'failed' THEN json_object()
                    ELSE json_object('text', {article}, 'model', 'gpt-4o-mini',
                                     'finish_reason', 'stop',
                                     'rate_limited', CASE WHEN {_u("llm429", "r.i")} < 0.01
                                                          THEN 1 ELSE 0 END)
                    END AS response,
               CASE WHEN r.status = 'failed' THEN 'LLMError: synthetic failure' END AS error
        FROM synth_runs r, synth_pool p"""
    )
    con.execute(
        f"""INSERT INTO tool_executions BY NAME
        WITH calls AS (
          SELECT r.run_id, r.started_at, r.natural_ms, r.n_connector_calls, j,
                 hash(r.i, j, 'call', getvariable('seed')) AS h
          FROM synth_runs r, range(8) t(j) WHERE j < r.n_connector_calls
        )
        SELECT 'tex_' || substr(c.run_id, 5) || lpad(printf('%d', c.j + 1), 2, '0')
                 AS execution_id,
               c.run_id, c.j + 2 AS seq, 'connector.' || k.service AS tool, k.operation,
               CASE WHEN (c.h >> 8) % 100 < 3 THEN 'failed' ELSE 'succeeded' END AS status,
               c.started_at + to_microseconds((c.natural_ms * 1000 * (c.j + 1)
                 / (c.n_connector_calls + 2))::BIGINT) AS started_at,
               20 + (c.h >> 16) % 900 AS duration_ms,
               json_object('service', k.service, 'operation', k.operation) AS request,
               CASE WHEN (c.h >> 24) % 100 < 2
                      THEN json_object('rate_limited', true, 'retry_after_s', 1 + (c.h >> 32) % 30)
                    ELSE json_object('ok', true, 'items', (c.h >> 40) % 50) END AS response,
               CASE WHEN (c.h >> 8) % 100 < 3 THEN 'ConnectorError: synthetic failure' END AS error
        FROM calls c JOIN synth_connectors k ON k.k = c.h % {len(SYNTH_CONNECTORS)}"""
    )
    con.execute(
        f"""INSERT INTO agent_run_metrics (run_id, name, value, unit)
        WITH m AS (
          SELECT r.run_id, r.status, r.n_connector_calls,
                 200 + (hash(r.i, 'pt', getvariable('seed')) % 400)::DOUBLE AS prompt_tokens,
                 CASE WHEN r.status = 'succeeded'
                      THEN 600 + (hash(r.i, 'ct', getvariable('seed')) % 900)::DOUBLE
                      ELSE 0 END AS completion_tokens,
                 {_u("breaker", "r.i")} AS u_breaker
          FROM synth_runs r WHERE r.status IN ('succeeded', 'failed')
        )
        SELECT run_id, name, value, unit FROM m, LATERAL (VALUES
            ('prompt_tokens', prompt_tokens, 'tokens'),
            ('completion_tokens', completion_tokens, 'tokens'),
            ('total_tokens', prompt_tokens + completion_tokens, 'tokens'),
            ('cost_usd', round((prompt_tokens * 0.15 + completion_tokens * 0.6) / 1e6, 10), 'USD'),
            ('tool_calls', n_connector_calls + 1, 'calls')
        ) v(name, value, unit)
        UNION ALL
        SELECT run_id, 'breaker_failures', 1 + floor(u_breaker * 3), 'failures'
        FROM m WHERE status = 'failed' AND u_breaker < 0.5"""
    )
    con.execute(
        """INSERT INTO content_drafts BY NAME
        SELECT 'draft_' || substr(t.run_id, 5) AS draft_id, t.run_id,
               'Synthetic article ' || (r.i % 997) AS title, t.response->>'text' AS content,
               json_object('word_count', 400 + r.i % 900) AS metadata,
               CASE WHEN r.i % 10 < 6 THEN 'draft' WHEN r.i % 10 < 9 THEN 'approved'
                    ELSE 'rejected' END AS status,
               r.started_at AS created_at, r.started_at AS updated_at,
               'Synthetic topic ' || (r.i % 997) AS topic,
               'keyword ' || (r.i % 211) AS primary_keyword
        FROM synth_runs r JOIN tool_executions t ON t.run_id = r.run_id AND t.seq = 1
        WHERE r.intent = 'content.generate_article' AND r.status = 'succeeded'"""
    )
