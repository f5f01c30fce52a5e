"""Checkpoints of the embedded mode's SQLite file, off the requests' path.

In WAL mode every commit appends to the write-ahead log, and by default the commit that takes the log
past 1,000 pages copies it back into the database file itself (an automatic checkpoint, with its
syncs). In a served console that commit belongs to a request: measured on the served alert
ingestion, one commit in 45-90 took 2.5-8 ms instead of 0.1 ms, and its request's webhook came that
much later. ``WalCheckpointer`` turns the automatic checkpoint off for the connections this process
opens from then on and runs it on a thread of its own, every ``interval`` seconds (sooner while the
log is long). The checkpoint is SQLite's passive one, the kind the automatic one is: it waits for no
reader or writer, and the next writer starts the log again from its beginning once all of it is in
the file. Only the process that runs a checkpointer turns its connections' automatic checkpoint off;
every other process (a command, the tests) keeps SQLite's default.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)

# Pages in the log past which the next checkpoint follows at once instead of after ``interval``.
LONG_LOG_PAGES = 1000


def _no_automatic_checkpoint(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite" and connection.connection is not None:
        connection.connection.execute("PRAGMA wal_autocheckpoint=0")


class WalCheckpointer:
    """Passive checkpoints of the SQLite file at ``path`` on a daemon thread (see the module)."""

    def __init__(self, path: str, *, interval: float = 1.0) -> None:
        self.path, self.interval = str(path), interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None

    def start(self) -> WalCheckpointer:
        from django.db import connections

        connection_created.connect(_no_automatic_checkpoint, dispatch_uid="core.sqlite.no_automatic_checkpoint")
        for connection in connections.all(initialized_only=True):  # this thread's, opened before
            _no_automatic_checkpoint(None, connection)
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        connection_created.disconnect(dispatch_uid="core.sqlite.no_automatic_checkpoint")
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._db is not None:
            self._db.close()
            self._db = None

    def checkpoint(self) -> tuple[int, int]:
        """One passive checkpoint: the pages in the log and how many of them are now in the file."""
        if self._db is None:
            self._db = sqlite3.connect(self.path, timeout=20, isolation_level=None, check_same_thread=False)
        busy, logged, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return logged, copied

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            try:
                logged, copied = self.checkpoint()
            except sqlite3.Error:  # a locked or vanished file: the next turn tries again
                logger.warning("checkpoint of %s failed", self.path, exc_info=True)
                wait = self.interval
                continue
            # A log still long after this turn (writers were quicker) gets the next one at once.
            wait = 0.05 if logged - copied > LONG_LOG_PAGES else self.interval
