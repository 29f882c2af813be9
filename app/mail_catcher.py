"""The development mail server: takes every message over SMTP and keeps it as a .eml file.

    python -m app.mail_catcher --port 8025 --directory instance/mail [--latency-ms 700]

Each message is written to <directory>/<time>-<n>.eml (open it in any mail client, or read it as
text) and announced with one log line. Nothing is relayed anywhere. Built on aiosmtpd. A latency
(`--latency-ms`, or MAIL_LATENCY_MS) delays each answer to DATA, as PAYMENT_LATENCY_MS slows the
payment service: long enough to stop a worker while it is sending.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import signal
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

log = logging.getLogger("mail")


class Catcher:
    """The aiosmtpd handler: every message accepted lands in `directory`."""

    def __init__(self, directory: Path, latency_seconds: float = 0.0) -> None:
        self.directory = directory
        self.latency_seconds = latency_seconds
        self.directory.mkdir(parents=True, exist_ok=True)
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(self.latency_seconds)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        path = self.directory / f"{stamp}-{next(self._numbers)}.eml"
        partial = path.with_suffix(".part")
        content = envelope.original_content or envelope.content
        partial.write_bytes(content)
        partial.rename(path)  # readers never see half a message
        subject = message_from_bytes(content, policy=policy.default)["Subject"]
        log.info("mail to %s: %s -> %s", ", ".join(envelope.rcpt_tos), subject, path)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--directory", type=Path, default=Path("instance/mail"))
    parser.add_argument("--latency-ms", type=int, default=int(os.environ.get("MAIL_LATENCY_MS", "0")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s mail %(message)s")
    catcher = Catcher(args.directory, args.latency_ms / 1000)
    controller = Controller(catcher, hostname=args.host, port=args.port)
    controller.start()
    log.info("catching mail on %s:%d into %s/", args.host, args.port, args.directory)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
