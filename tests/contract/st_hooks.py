"""Schemathesis CLI hooks (``SCHEMATHESIS_HOOKS=tests.contract.st_hooks``): the same documented
exceptions to ``positive_data_acceptance`` as the in-process fuzzing tests (run the CLI with
``--exclude-checks positive_data_acceptance``)."""

from __future__ import annotations

import schemathesis

from tests.contract._checks import positive_data_acceptance_unless_key_reused

schemathesis.check(positive_data_acceptance_unless_key_reused)
