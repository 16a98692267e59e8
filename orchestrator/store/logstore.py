"""The log store: every chunk of every job's output, persisted before anyone is told about it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, Engine, text

STDOUT, STDERR, SYSTEM = 0, 1, 2
# The last sequence number a log may have: the largest integer a double holds exactly, so JSON
# readers of the log agree, and far inside SQL's bigint.
MAX_SEQ = 2**53
# What one read returns at most (and at least one chunk): far below gRPC's 4 MiB messages.
PAGE_BYTES = 1024 * 1024
PAGE_CHUNKS = 1000


@dataclass(frozen=True)
class Chunk:
    seq: int
    stream: int
    # Unix seconds when the agent read it.
    at: float
    data: bytes


class Appended(NamedTuple):
    # Bytes of output stored, and dropped past the job's limit; chunks sent twice are neither.
    stored: int
    dropped: int


class LogStore:
    """Chunks keyed by (job, seq): a chunk sent twice is stored once."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        p = "%s" if self.postgres else "?"
        self.select_sizes = (
            f"SELECT seq, length(data) FROM log_chunk WHERE job_id = {p} AND seq >= {p}"
            f" ORDER BY seq LIMIT {PAGE_CHUNKS}"
        )
        self.select_chunks = (
            f"SELECT seq, stream, at, data FROM log_chunk WHERE job_id = {p}"
            f" AND seq >= {p} AND seq <= {p} ORDER BY seq"
        )
        self.select_last = f"SELECT MAX(seq) FROM log_chunk WHERE job_id = {p}"
        self.select_back = (
            f"SELECT seq, data FROM log_chunk WHERE job_id = {p} AND seq < {p}"
            f" ORDER BY seq DESC LIMIT 64"
        )

    def append(self, job_id: str, chunks: Sequence[Chunk], limit: int) -> Appended:
        """Stores the job's output up to `limit` bytes; past it, one visible notice.

        laino's own notices (SYSTEM) are kept past the limit: they say how the job ended.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                text("SELECT bytes, truncated FROM log_budget WHERE job_id = :job"),
                {"job": job_id},
            ).first()
            used, truncated = row if row else (0, 0)
            stored = self._stored(conn, job_id, chunks)
            keep: list[Chunk] = []
            added = dropped = 0
            for chunk in chunks:
                if chunk.seq in stored:  # an agent sending again what was acknowledged
                    continue
                if chunk.stream == SYSTEM:
                    keep.append(chunk)
                elif truncated or used + added + len(chunk.data) > limit:
                    dropped += len(chunk.data)
                    if not truncated:  # the first chunk past the limit says so, in its place
                        notice = f"laino: log truncated: the job wrote more than {limit} bytes\n"
                        keep.append(Chunk(chunk.seq, SYSTEM, chunk.at, notice.encode()))
                        truncated = 1
                else:
                    keep.append(chunk)
                    added += len(chunk.data)
            self._insert(conn, job_id, keep)
            conn.execute(
                text(
                    "INSERT INTO log_budget VALUES (:job, :added, :truncated) ON CONFLICT (job_id)"
                    " DO UPDATE SET bytes = log_budget.bytes + excluded.bytes,"
                    " truncated = excluded.truncated"
                ),
                {"job": job_id, "added": added, "truncated": truncated},
            )
        return Appended(added, dropped)

    def expire(self, job_id: str, notice: str) -> None:
        """Deletes the job's output, leaving one notice after where it ended."""
        with self.engine.begin() as conn:
            job = {"job": job_id}
            last = conn.execute(
                text("SELECT MAX(seq) FROM log_chunk WHERE job_id = :job"), job
            ).scalar()
            conn.execute(text("DELETE FROM log_chunk WHERE job_id = :job"), job)
            conn.execute(text("DELETE FROM log_budget WHERE job_id = :job"), job)
            said = Chunk(int(last or 0) + 1, SYSTEM, time.time(), notice.encode())
            self._insert(conn, job_id, [said])

    def _stored(self, conn: Connection, job_id: str, chunks: Sequence[Chunk]) -> set[int]:
        if not chunks:
            return set()
        rows = conn.execute(
            text("SELECT seq FROM log_chunk WHERE job_id = :job AND seq BETWEEN :first AND :last"),
            {"job": job_id, "first": chunks[0].seq, "last": chunks[-1].seq},
        )
        return {seq for (seq,) in rows}

    def _insert(self, conn: Connection, job_id: str, chunks: Sequence[Chunk]) -> None:
        """The hot path of ingestion, so in the driver's own terms."""
        if not chunks:
            return
        if self.postgres:
            # One statement for the whole batch: executemany would make a round trip per chunk.
            conn.exec_driver_sql(
                "INSERT INTO log_chunk SELECT %s, u.* FROM unnest(%s::bigint[], %s::integer[],"
                " %s::double precision[], %s::bytea[]) AS u ON CONFLICT DO NOTHING",
                (
                    job_id,
                    [c.seq for c in chunks],
                    [c.stream for c in chunks],
                    [c.at for c in chunks],
                    [c.data for c in chunks],
                ),
            )
            return
        insert = "INSERT INTO log_chunk VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        rows = [(job_id, c.seq, c.stream, c.at, c.data) for c in chunks]
        conn.exec_driver_sql(insert, rows)

    def read(self, job_id: str, from_seq: int, max_bytes: int = PAGE_BYTES) -> list[Chunk]:
        """Chunks from `from_seq` on, in order: at least one, and past the first at most
        `max_bytes` in all."""
        with self.engine.connect() as conn:
            sizes = conn.exec_driver_sql(self.select_sizes, (job_id, from_seq)).all()
            if not sizes:
                return []
            total, last = 0, sizes[0][0]
            for seq, size in sizes:
                if total and total + size > max_bytes:
                    break
                total, last = total + size, seq
            rows = conn.exec_driver_sql(self.select_chunks, (job_id, from_seq, last)).all()
        return [Chunk(seq, stream, at, bytes(data)) for seq, stream, at, data in rows]

    def last_seq(self, job_id: str) -> int:
        with self.engine.connect() as conn:
            found = conn.exec_driver_sql(self.select_last, (job_id,)).scalar()
        return int(found or 0)

    def since(self, job_id: str, at: float) -> int:
        """The seq of the first chunk read at or after `at`; past the log's end if none was."""
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT MIN(seq) FROM log_chunk WHERE job_id = :job AND at >= :at"),
                {"job": job_id, "at": at},
            ).scalar()
        return int(found) if found is not None else self.last_seq(job_id) + 1

    def tail(self, job_id: str, lines: int) -> tuple[int, int]:
        """Where the last `lines` lines start: a seq, and how many bytes of that chunk to skip.

        A line ends with a newline; output after the last newline is a line too.
        """
        before, after, first = MAX_SEQ + 1, 0, True
        with self.engine.connect() as conn:
            while rows := conn.exec_driver_sql(self.select_back, (job_id, before)).all():
                for seq, data in rows:
                    end = len(data)
                    if first and data.endswith(b"\n"):
                        end -= 1  # the newline ending the log ends its last line
                    first = False
                    while (found := bytes(data).rfind(b"\n", 0, end)) >= 0:
                        lines -= 1
                        if lines == 0:
                            return (seq, found + 1) if found + 1 < len(data) else (after, 0)
                        end = found
                    after = seq
                before = rows[-1][0]
        return 0, 0
