"""The development mail catcher (app/mail_catcher.py) run for real, for tests that read what was sent."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from tests.e2e.stack import ROOT, free_port, wait_for


class MailCatcher:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self) -> list[EmailMessage]:
        """What arrived, oldest first, parsed from the .eml files."""
        return [message_from_bytes(path.read_bytes(), policy=policy.default)
                for path in sorted(self.directory.glob("*.eml"))]


@contextlib.contextmanager
def running_catcher(directory: Path) -> Iterator[MailCatcher]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.mail_catcher", "--port", str(port),
                             "--directory", str(directory)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True,
                 timeout=15, what="the mail catcher")
        yield MailCatcher(directory, port)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
