"""Secret redaction (kept as the historical import path of :mod:`neonhub_nb.redaction`).

``from neonhub_nb.redact import Redactor, REDACTED, redact_text, is_secret_name`` keeps
working; the implementation and its documentation live in :mod:`neonhub_nb.redaction`.
"""

from __future__ import annotations

from .redaction import (
    HIDDEN_SECRET,
    MIN_KNOWN_SECRET,
    REDACTED,
    RedactingFilter,
    Redactor,
    StreamRedactor,
    is_secret_name,
    known_secrets_from_environ,
    redact_text,
    redact_truncate,
    safe_value,
)

__all__ = [
    "HIDDEN_SECRET",
    "MIN_KNOWN_SECRET",
    "REDACTED",
    "RedactingFilter",
    "Redactor",
    "StreamRedactor",
    "is_secret_name",
    "known_secrets_from_environ",
    "redact_text",
    "redact_truncate",
    "safe_value",
]
