"""Bad input: the corpus of tests/test_bad_input.py is large and covers the missing and wrong
programs. The cases themselves run there; scripts/reliability counts how many passed."""

from __future__ import annotations

import pytest

from tests.reliability.common import record
from tests.test_bad_input import CASES, fake_parallel, without_packer, without_parallel

MISSING_PROGRAMS = {
    "GNU parallel missing": without_parallel,
    "Packer missing": without_packer,
    "moreutils' parallel first on PATH": fake_parallel,
}


def test_the_bad_input_corpus_covers_missing_and_wrong_programs(
    request: pytest.FixtureRequest,
) -> None:
    covered = {
        what: [case.id for case in CASES if case.path is setup and case.args[0] == "exec"]
        for what, setup in MISSING_PROGRAMS.items()
    }
    record(
        "Bad input: corpus",
        request.node.nodeid,
        len(CASES),
        len(CASES),
        covers=covered,
    )
    assert len(CASES) >= 50
    assert all(covered.values()), covered
