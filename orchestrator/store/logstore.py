"""The log store: every line of every job, persisted before anyone is told about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, Engine, text

SYSTEM = 2
# The last sequence number a log may have: the largest integer a double holds exactly, so JSON
# readers of the log agree, and far inside SQL's bigint.
MAX_SEQ = 2**53


@dataclass(frozen=True)
class Line:
    seq: int
    stream: int
    text: str


class Appended(NamedTuple):
    stored: int
    # Lines past the job's budget; lines sent twice are neither stored nor dropped.
    dropped: int


class LogStore:
    """Lines keyed by (job, seq): a line sent twice is stored once."""

    def __init__(self, engine: Engine, *, budget: int):
        self.engine = engine
        self.budget = budget
        self.postgres = engine.dialect.name == "postgresql"
        p = "%s" if self.postgres else "?"
        self.select_lines = (
            f"SELECT seq, stream, text FROM log_line WHERE job_id = {p} AND seq >= {p}"
            f" ORDER BY seq LIMIT {p}"
        )

    def append(self, job_id: str, lines: Sequence[tuple[int, int, str]]) -> Appended:
        """Stores what fits the job's budget; past it, one visible notice and nothing more."""
        with self.engine.begin() as conn:
            row = conn.execute(
                text("SELECT lines, truncated FROM log_budget WHERE job_id = :job"), {"job": job_id}
            ).first()
            used, truncated = row if row else (0, 0)
            if truncated:
                return Appended(0, len(lines))
            keep = list(lines[: max(0, self.budget - used)])
            added = self._insert(conn, job_id, keep)
            if len(keep) < len(lines):
                notice = f"laino: log truncated: the job exceeded its budget of {self.budget} lines"
                self._insert(conn, job_id, [(lines[len(keep)][0], SYSTEM, notice)])
                truncated = 1
            conn.execute(
                text(
                    "INSERT INTO log_budget VALUES (:job, :added, :truncated) ON CONFLICT (job_id)"
                    " DO UPDATE SET lines = log_budget.lines + excluded.lines,"
                    " truncated = excluded.truncated"
                ),
                {"job": job_id, "added": added, "truncated": truncated},
            )
        return Appended(added, len(lines) - len(keep))

    def _insert(self, conn: Connection, job_id: str, lines: Sequence[tuple[int, int, str]]) -> int:
        """Inserts what is new; the hot path of ingestion, so in the driver's own terms."""
        if not lines:
            return 0
        if self.postgres:
            # One statement for the whole batch: executemany would make a round trip per line.
            seqs, streams, texts = zip(*lines, strict=True)
            return conn.exec_driver_sql(
                "INSERT INTO log_line SELECT %s, u.* FROM unnest(%s::bigint[], %s::integer[],"
                " %s::text[]) AS u ON CONFLICT DO NOTHING",
                (job_id, list(seqs), list(streams), list(texts)),
            ).rowcount
        insert = "INSERT INTO log_line VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
        return conn.exec_driver_sql(insert, [(job_id, *line) for line in lines]).rowcount

    def read(self, job_id: str, from_seq: int, limit: int = 5000) -> list[Line]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(self.select_lines, (job_id, from_seq, limit)).all()
        return [Line(*row) for row in rows]

    def last_seq(self, job_id: str) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT MAX(seq) FROM log_line WHERE job_id = :job"), {"job": job_id}
            ).scalar()
        return int(found or 0)

    def tail_start(self, job_id: str, count: int) -> int:
        """The seq from which the last `count` lines start."""
        with self.engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT MIN(seq) FROM (SELECT seq FROM log_line WHERE job_id = :job"
                    " ORDER BY seq DESC LIMIT :count) AS last"
                ),
                {"job": job_id, "count": count},
            ).scalar()
        return int(found or 0)
