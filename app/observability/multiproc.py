"""Housekeeping of PROMETHEUS_MULTIPROC_DIR, the directory where each process keeps its metric values."""

from __future__ import annotations

import os
import re
from pathlib import Path

from app import config

DEFAULT_DIR = config.PROJECT_DIR / "instance" / "prometheus"
# prometheus_client names each file <type>[_<gauge mode>]_<pid>.db.
_PID = re.compile(r"_(\d+)\.db$")


def prepare(path: str | os.PathLike | None = None) -> Path:
    """PROMETHEUS_MULTIPROC_DIR (set to the default when unset) as an existing directory.

    Must run before prometheus_client is first imported in this process: it picks multiprocess
    mode at import time, from this variable.
    """
    directory = Path(path or os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(DEFAULT_DIR)))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def prune_dead(directory: Path) -> list[Path]:
    """Delete the files of processes that no longer run; returns what it deleted.

    Their counts vanish from the sums, which Prometheus reads as a counter reset; the files of
    running processes (a worker that did not restart) stay, so none of their counts is lost.
    """
    removed = []
    for path in directory.glob("*.db"):
        match = _PID.search(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
