"""The diff corpus (``corpus.py``): every case reports exactly its expected rules and levels."""

from __future__ import annotations

from collections import Counter

import pytest

from shared.governance import RULES, Contract, diff_contracts
from tests.unit.governance.corpus import CASES, TODAY, Case


def test_the_corpus_is_big_enough_and_uses_catalogued_rules() -> None:
    assert len(CASES) >= 80
    assert len({case.id for case in CASES}) == len(CASES)
    for case in CASES:
        for rule_id, level in case.expected:
            assert RULES[rule_id].level.value == level, (case.id, rule_id)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: Case) -> None:
    changes = diff_contracts(
        Contract(case.base, "base.yaml"),
        Contract(case.revision, "revision.yaml"),
        contract="c.yaml",
        today=TODAY,
    )
    found = Counter((change.rule, change.level.value) for change in changes)
    assert found == Counter(case.expected), [(c.rule, c.location, c.message) for c in changes]
