"""Contract governance: ``qgate contracts diff`` (breaking-change rules and waivers) and
``qgate contracts lint`` (qgate's API policy), on OpenAPI 3.0 and 3.1 contracts.

- :func:`diff_contracts` reports every :class:`Change` from a base contract to a revision, each
  under a stable rule id from :data:`RULES` with its :class:`Level`;
- :func:`apply_waivers` decides which changes block the gate, given the reviewed
  :class:`Waiver` list (``openapi/waivers.yaml``); :func:`render` reports the result as text,
  markdown or JSON;
- :func:`lint_contract` checks the governance policy (see :mod:`shared.governance._lint`).
"""

from __future__ import annotations

from shared.governance._cli import RELEASED_DIR, add_governance_commands, committed_contracts
from shared.governance._diff import Change, diff_contracts, sunset_date
from shared.governance._lint import LINT_RULES, Finding, lint_contract
from shared.governance._load import Contract, ContractError, load_contract, parse_contract
from shared.governance._report import FORMATS, render
from shared.governance._rules import RULES, SIDES, Level, Rule
from shared.governance._waivers import (
    WAIVERS_FILE,
    GateResult,
    Verdict,
    Waiver,
    apply_waivers,
    load_waivers,
)

__all__ = [
    "FORMATS",
    "LINT_RULES",
    "RELEASED_DIR",
    "RULES",
    "SIDES",
    "WAIVERS_FILE",
    "Change",
    "Contract",
    "ContractError",
    "Finding",
    "GateResult",
    "Level",
    "Rule",
    "Verdict",
    "Waiver",
    "add_governance_commands",
    "apply_waivers",
    "committed_contracts",
    "diff_contracts",
    "lint_contract",
    "load_contract",
    "load_waivers",
    "parse_contract",
    "render",
    "sunset_date",
]
