"""The benchmark still runs end to end: a tiny seeded round of every system on the real stack.

Its figures are not checked (they are measurements, not behaviour); what is checked is that each
system's bookings all finished, the saga's all confirmed, and the contention race left every seat
booked once or free. On SQLite only: the benchmark empties any PostgreSQL database it is given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.stack import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                       reason="the benchmark runs once, in the SQLite pass"),
]
BENCH_REDIS_DBS = os.environ.get("TEST_BENCH_REDIS_DBS", "3,2,1").split(",")


def test_the_benchmark_runs_every_system_and_reports_the_ratios(tmp_path):
    holds, broker, chains = BENCH_REDIS_DBS
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench", "--quick", "--sagas", "12", "--serial", "3", "--clients", "3",
         "--cycles", "2", "--contention", "12", "--holds-db", holds, "--broker-db", broker,
         "--chains-broker-db", chains, "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "saga/bare: throughput" in done.stdout and "saga/celery-saga: throughput" in done.stdout
    [report] = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    assert "cycle 2: saga/bare: throughput" in done.stdout and "median of the 2 cycles:" in done.stdout
    assert len(report["cycles"]) == len(report["ratios_by_cycle"]) == 2
    for compared in [report["noop"], report["bare_last"]] + [cycle[name] for cycle in report["cycles"]
                                                              for name in ("bare", "celery-saga")]:
        assert compared["loaded"]["finished"] == 12
    for cycle in report["cycles"]:
        saga = cycle["saga"]["loaded"]
        assert saga["confirmed"] == 12 and saga["error_count"] == 0
    assert report["contention"]["every_seat_once_or_free"] and report["contention"]["all_terminal"]
    assert list(tmp_path.glob("*.png"))
