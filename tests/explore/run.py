"""`scripts/explore`: run the interleaving explorer for a while, over one seed after another.

Prints, per seed, how many examples ran, and each violation found with Hypothesis' minimal
example (the steps to replay it). Exits 1 if any invariant broke.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import TEST_REDIS_URL  # noqa: F401 - imports the test configuration
from tests.explore.machine import SagaExplorer, Violation
from tests.explore.session import explorer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/explore", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="stop starting new seeds after this")
    parser.add_argument("--seed", type=int, default=1, help="the first seed; each round uses the next")
    parser.add_argument("--examples", type=int, default=200, help="examples per seed")
    parser.add_argument("--steps", type=int, default=30, help="rules per example")
    parser.add_argument("--no-shrink", action="store_true", help="report the first failing example as is")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the saga's own warnings are expected here, by the hundred

    phases = [Phase.explicit, Phase.generate] + ([] if args.no_shrink else [Phase.shrink])
    config = settings(max_examples=args.examples, stateful_step_count=args.steps, deadline=None,
                      database=None, phases=phases, suppress_health_check=list(HealthCheck),
                      print_blob=False, report_multiple_bugs=True)
    deadline = time.monotonic() + args.minutes * 60
    started, total, found = time.monotonic(), 0, {}
    current = args.seed
    monkeypatch = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory(prefix="explore-") as tmp, \
            explorer(Path(tmp), monkeypatch) as machine:
        while time.monotonic() < deadline:
            before = SagaExplorer.examples
            failures = _run_seed(machine, config, current)
            ran = SagaExplorer.examples - before
            total += ran
            print(f"seed {current}: {ran} examples, {len(failures)} violation(s)", flush=True)
            for failure in failures:
                clause = type(failure).__name__
                first = clause not in found
                found.setdefault(clause, failure)
                print(_describe(failure, current, first), flush=True)
            current += 1
    monkeypatch.undo()
    elapsed = time.monotonic() - started
    print(f"\n{total} examples in {elapsed:.0f} s ({total / elapsed:.1f}/s), "
          f"seeds {args.seed}..{current - 1}; violations: {', '.join(sorted(found)) or 'none'}")
    return 1 if found else 0


def _run_seed(machine: type[SagaExplorer], config: settings, value: int) -> list[BaseException]:
    try:
        seed(value)(lambda: run_state_machine_as_test(machine, settings=config))()
    except Violation as failure:
        return [failure]
    except BaseExceptionGroup as group:  # several distinct bugs in one run
        return [failure for failure in _leaves(group)]
    return []


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out = []
    for failure in group.exceptions:
        out += _leaves(failure) if isinstance(failure, BaseExceptionGroup) else [failure]
    return out


def _describe(failure: BaseException, value: int, first: bool) -> str:
    kind = "violation" if isinstance(failure, Violation) else "error in the explorer or the code"
    notes = "\n".join(getattr(failure, "__notes__", []))
    lines = [f"--- {kind} {type(failure).__name__} (seed {value}{'' if first else ', seen before'})",
             str(failure), notes]
    return "\n".join(line for line in lines if line)


if __name__ == "__main__":
    sys.exit(main())
