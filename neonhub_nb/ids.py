"""Identifiers that sort by creation time (like UUIDv7) and say what they name."""

from __future__ import annotations

import os
import random
import time

__all__ = ["new_id"]

# Ids must not collide; they need not be unguessable. A private generator, seeded from
# os.urandom and reseeded in every forked child, costs a third of secrets.token_hex (a run
# makes an id for itself and for each tool call, on the logging path). Private, so that a
# notebook's random.seed(42) cannot make two processes hand out the same ids.
_RANDOM = random.Random()
os.register_at_fork(after_in_child=_RANDOM.seed)


def new_id(prefix: str) -> str:
    """``prefix_`` + 12 hex digits of milliseconds + 10 random hex digits."""
    return f"{prefix}_{int(time.time() * 1000):012x}{_RANDOM.getrandbits(40):010x}"
