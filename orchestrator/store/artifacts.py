"""Jobs' artifacts: each kept file by job and path, its bytes stored once by their sha256.

The embedded store keeps the bytes as files in the home folder (artifacts/ab/abcd…); with
PostgreSQL they go into the database in 1 MiB pieces; with `--artifacts s3://…`, into an
object store (store/objects.py). A file is recorded only once its bytes
are whole, in one transaction with them in the database: a server that dies during an upload
records nothing, and the agent's next try stores it once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

from laino.orchestrator.store.objects import ObjectStore

CHUNK = 1 << 20


@dataclass(frozen=True)
class Artifact:
    path: str
    size: int
    sha256: str
    created_at: float


class ArtifactNotFound(LookupError):
    pass


class ArtifactStore:
    def __init__(self, engine: Engine, folder: Path | None, objects: ObjectStore | None = None):
        """`folder`: where the bytes go as files; `objects`: an object store instead; neither:
        into the database. Uploads wait in `folder`, or in the system's temporary folder."""
        self.engine = engine
        self.folder = folder
        self.objects = objects

    def clear_spool(self) -> None:
        """At start: the uploads a killed server left half done (their agents send again)."""
        if self.folder is not None and (self.folder / "incoming").exists():
            for left in (self.folder / "incoming").iterdir():
                left.unlink(missing_ok=True)

    def listed(self, job_id: str) -> list[Artifact]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT path, size, sha256, created_at FROM artifact WHERE job_id = :job"
                    " ORDER BY path"
                ),
                {"job": job_id},
            )
            return [Artifact(p, int(s), h, float(c)) for p, s, h, c in rows]

    def find(self, job_id: str, path: str) -> Artifact | None:
        if "\0" in job_id + path:  # no file has such a name, and PostgreSQL refuses the NUL
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT path, size, sha256, created_at FROM artifact"
                    " WHERE job_id = :job AND path = :path"
                ),
                {"job": job_id, "path": path},
            ).first()
        return Artifact(row[0], int(row[1]), row[2], float(row[3])) if row else None

    def used(self, job_id: str) -> int:
        """The bytes the job's artifacts take."""
        with self.engine.connect() as conn:
            total = conn.execute(
                text("SELECT SUM(size) FROM artifact WHERE job_id = :job"), {"job": job_id}
            ).scalar()
        return int(total or 0)

    def spool(self) -> Spool:
        """Where an upload's bytes wait, hashed as they come, until `keep`."""
        where = None
        if self.folder is not None:
            where = self.folder / "incoming"
            where.mkdir(parents=True, exist_ok=True)
        return Spool(tempfile.NamedTemporaryFile(dir=where, delete=False))

    def keep(self, job_id: str, path: str, spool: Spool) -> Artifact:
        """Records the spooled bytes as the job's `path`; the first record of a path stays.

        Bytes kept outside the database (files, objects) are stored first, so no transaction
        is held open while they are written; the record follows. In the database, both go in
        one transaction."""
        spool.file.flush()
        digest, size = spool.hash.hexdigest(), spool.size
        try:
            found = self.find(job_id, path)
            if found is not None:  # an upload repeated after a lost answer
                return found
            if self.objects is not None:
                if not self.objects.has(digest):
                    self.objects.put(digest, spool.file)
            elif self.folder is not None:
                self._link(digest, spool)
            with self.engine.begin() as conn:
                if self.objects is None and self.folder is None:
                    self._chunks(conn, digest, spool)
                conn.execute(
                    text(
                        "INSERT INTO artifact VALUES (:job, :path, :sha, :size, :at)"
                        " ON CONFLICT DO NOTHING"
                    ),
                    {"job": job_id, "path": path, "sha": digest, "size": size, "at": time.time()},
                )
        finally:
            spool.discard()
        return self.find(job_id, path) or Artifact(path, size, digest, time.time())

    def _link(self, digest: str, spool: Spool) -> None:
        target = self._file(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.fsync(spool.file.fileno())
            with contextlib.suppress(FileExistsError):  # the same bytes, from another job
                os.link(spool.file.name, target)

    def _chunks(self, conn: Connection, digest: str, spool: Spool) -> None:
        if conn.execute(
            text("SELECT 1 FROM blob_chunk WHERE sha256 = :sha AND n = 0"), {"sha": digest}
        ).first():
            return
        spool.file.seek(0)
        n = 0
        # An empty file is one empty piece: piece 0 says the bytes are stored.
        while (piece := spool.file.read(CHUNK)) or n == 0:
            conn.execute(
                text("INSERT INTO blob_chunk VALUES (:sha, :n, :data)"),
                {"sha": digest, "n": n, "data": piece},
            )
            n += 1

    def read(self, job_id: str, path: str) -> Iterator[bytes]:
        """The file's bytes, in pieces of at most 1 MiB."""
        found = self.find(job_id, path)
        if found is None:
            raise ArtifactNotFound(f"job {job_id} kept no file {path[:200]!r}")
        return self._bytes(found.sha256)

    def _bytes(self, digest: str) -> Iterator[bytes]:
        if self.objects is not None:
            yield from self.objects.read(digest)
            return
        if self.folder is not None:
            with self._file(digest).open("rb") as file:
                while data := file.read(CHUNK):
                    yield data
            return
        n = 0
        while True:
            with self.engine.connect() as conn:
                piece = conn.execute(
                    text("SELECT data FROM blob_chunk WHERE sha256 = :sha AND n = :n"),
                    {"sha": digest, "n": n},
                ).scalar()
            if piece is None:
                return
            if piece:
                yield bytes(piece)
            n += 1

    def forget(self, job_id: str) -> None:
        """Drops the job's artifacts, and the bytes no other job's artifact shares."""
        with self.engine.begin() as conn:
            digests = [
                str(d)
                for (d,) in conn.execute(
                    text("SELECT sha256 FROM artifact WHERE job_id = :job"), {"job": job_id}
                )
            ]
            conn.execute(text("DELETE FROM artifact WHERE job_id = :job"), {"job": job_id})
            orphans = [
                d
                for d in digests
                if conn.execute(
                    text("SELECT 1 FROM artifact WHERE sha256 = :sha"), {"sha": d}
                ).first()
                is None
            ]
            if self.folder is None and self.objects is None:
                for digest in orphans:
                    conn.execute(
                        text("DELETE FROM blob_chunk WHERE sha256 = :sha"), {"sha": digest}
                    )
        for digest in orphans:
            if self.objects is not None:
                self.objects.delete(digest)
            elif self.folder is not None:
                self._file(digest).unlink(missing_ok=True)

    def _file(self, digest: str) -> Path:
        assert self.folder is not None
        return self.folder / digest[:2] / digest


class Spool:
    def __init__(self, file: IO[bytes]):
        self.file = file
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.hash.update(data)
        self.size += len(data)

    def discard(self) -> None:
        self.file.close()
        Path(self.file.name).unlink(missing_ok=True)
