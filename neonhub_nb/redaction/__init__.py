"""Secret redaction: nothing of a credential reaches a record, an output, a log or an error.

* :class:`Redactor` knows the settings' credential values and every rule (vendor token
  formats, JWTs, private keys, URL passwords, ``Authorization`` values, secret-named
  ``key=value`` pairs, random strings next to a word like "token"); ``.text()`` cleans a
  string, ``.redact()`` nested data.
* :class:`StreamRedactor` for chunked text; :func:`redact_truncate`, :func:`safe_value`
  and :class:`RedactingFilter` for the sinks.

``neonhub_nb.redact`` re-exports the same names. What is caught and what cannot be:
``docs/redaction.md``.
"""

from __future__ import annotations

from .engine import REDACTED
from .helpers import HIDDEN_SECRET, RedactingFilter, redact_truncate, safe_value
from .names import is_secret_name
from .redactor import MIN_KNOWN_SECRET, Redactor, known_secrets_from_environ, redact_text
from .stream import StreamRedactor

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
