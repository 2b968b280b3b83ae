"""Run and tool-call ids: unique across seeding, forks and time order."""

from __future__ import annotations

import os
import random
import re

from neonhub_nb.ids import new_id


def test_ids_have_their_prefix_and_sort_by_creation_time() -> None:
    first, second = new_id("run"), new_id("run")
    assert re.fullmatch(r"run_[0-9a-f]{22}", first)
    assert first[4:16] <= second[4:16]  # milliseconds first


def test_a_notebook_seeding_random_does_not_repeat_ids() -> None:
    random.seed(42)
    first = new_id("tex")
    random.seed(42)
    assert new_id("tex")[-10:] != first[-10:]


def test_a_forked_child_does_not_hand_out_its_parents_next_id() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then leave without running pytest's exit
        os.write(write_end, new_id("run").encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 100).decode()
    os.close(read_end)
    os.close(write_end)
    assert child[-10:] != new_id("run")[-10:]
