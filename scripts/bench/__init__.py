"""The benchmark: the booking saga on the real stack, beside the same work done without it.

    .venv/bin/python -m scripts.bench [--quick] [--growth] [--database-url …] [--workers K]

run.py      the rounds and their order; the command line
stack.py    the processes (web, payment, loyalty, beat, a worker node) on free ports
load.py     closed-loop clients: over HTTP for the saga, straight on the broker for the others
work.py     a booking's participant work without the saga, shared by the two systems below
chains.py   the bare chain of that work, and a chain of no-op tasks
peer.py     celery-saga doing that work
data.py     users, flights and the growth phase's rows; reading the outcome back
trace.py    one booking's SQL statements, commits, Redis and HTTP round trips, counted in-process
growth.py   throughput at 1, 2 and 4 worker processes; read latency as the tables grow
profile.py  a round under py-spy
explain.py  the query plans of the read paths
report.py   ratios, targets, the table and the chart
"""
