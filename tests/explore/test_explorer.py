"""The interleaving explorer as a test: a few hundred examples from a fixed seed (SPEC §5, I8).

It drives the saga's plain code with every delivery, fault and janitor of tests/explore/machine.py
and fails with Hypothesis' minimal example on the first broken invariant. scripts/explore runs the
same machine for as long as asked, over many seeds.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.explore.session import explorer

EXAMPLES = int(os.environ.get("EXPLORE_EXAMPLES", "300"))
SEED = int(os.environ.get("EXPLORE_SEED", "20240601"))


@pytest.mark.explore
def test_no_interleaving_breaks_an_invariant(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        run = seed(SEED)(lambda: run_state_machine_as_test(machine, settings=SETTINGS))
        run()


# No shrinking here: it can take minutes. The failing example is printed as found; scripts/explore
# shrinks it to a minimal one.
SETTINGS = settings(max_examples=EXAMPLES, stateful_step_count=30, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                    print_blob=False)
