"""The log store: every line of every job, persisted before anyone is told about it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

SYSTEM = 2


@dataclass(frozen=True)
class Line:
    seq: int
    stream: int
    text: str


class LogStore:
    """Lines keyed by (job, seq): a line sent twice is stored once."""

    def __init__(self, conn: sqlite3.Connection, *, budget: int):
        self.conn = conn
        self.budget = budget

    def append(self, job_id: str, lines: Sequence[tuple[int, int, str]]) -> int:
        """Stores what fits the job's budget; past it, one visible notice and nothing more."""
        with self.conn:
            row = self.conn.execute(
                "SELECT lines, truncated FROM log_budget WHERE job_id = ?", (job_id,)
            ).fetchone()
            used, truncated = row if row else (0, 0)
            if truncated:
                return 0
            room = self.budget - used
            keep = list(lines[:room])
            before = self.conn.total_changes
            self.conn.executemany(
                "INSERT OR IGNORE INTO log_line VALUES (?, ?, ?, ?)",
                [(job_id, seq, stream, text) for seq, stream, text in keep],
            )
            added = self.conn.total_changes - before
            if len(keep) < len(lines):
                notice = f"laino: log truncated: the job exceeded its budget of {self.budget} lines"
                self.conn.execute(
                    "INSERT OR IGNORE INTO log_line VALUES (?, ?, ?, ?)",
                    (job_id, lines[len(keep)][0], SYSTEM, notice),
                )
                truncated = 1
            self.conn.execute(
                "INSERT INTO log_budget VALUES (?, ?, ?) ON CONFLICT (job_id) DO UPDATE"
                " SET lines = lines + excluded.lines, truncated = excluded.truncated",
                (job_id, added, truncated),
            )
        return added

    def read(self, job_id: str, from_seq: int, limit: int = 5000) -> list[Line]:
        rows = self.conn.execute(
            "SELECT seq, stream, text FROM log_line WHERE job_id = ? AND seq >= ?"
            " ORDER BY seq LIMIT ?",
            (job_id, from_seq, limit),
        )
        return [Line(*row) for row in rows]

    def last_seq(self, job_id: str) -> int:
        row = self.conn.execute(
            "SELECT MAX(seq) FROM log_line WHERE job_id = ?", (job_id,)
        ).fetchone()
        return int(row[0] or 0)

    def tail_start(self, job_id: str, count: int) -> int:
        """The seq from which the last `count` lines start."""
        row = self.conn.execute(
            "SELECT MIN(seq) FROM (SELECT seq FROM log_line WHERE job_id = ?"
            " ORDER BY seq DESC LIMIT ?)",
            (job_id, count),
        ).fetchone()
        return int(row[0] or 0)
