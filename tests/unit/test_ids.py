"""Time-ordered ids sort in the order one process made them, also within one millisecond."""

from __future__ import annotations

import re

import pytest

from shared import ids
from shared.ids import time_ordered_id


@pytest.fixture(autouse=True)
def _fresh_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests' clocks stay theirs: the process's last id is put back afterwards."""
    monkeypatch.setattr(ids, "_last", 0)


def test_ids_made_within_one_millisecond_still_sort_in_order() -> None:
    made = [time_ordered_id("DSP", clock=lambda: 1_764_000_000_000_000_000) for _ in range(500)]

    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"DSP-[0-9A-F]{20}", i) for i in made)
    assert {i[4:16] for i in made} == {f"{1_764_000_000_000:012X}"}


def test_a_later_millisecond_sorts_after_and_draws_a_random_suffix() -> None:
    clock = iter(range(1_800_000_000_000_000_000, 1_900_000_000_000_000_000, 1_000_000))
    made = [time_ordered_id("CNT", clock=lambda: next(clock)) for _ in range(200)]

    assert made == sorted(made)
    assert len({i[-8:] for i in made}) > 150  # random, not a counter
