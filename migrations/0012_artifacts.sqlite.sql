-- Jobs' artifacts (store/artifacts.py): each kept file by job and path, content-addressed.
CREATE TABLE artifact (
  job_id TEXT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size BIGINT NOT NULL,
  created_at REAL NOT NULL,
  PRIMARY KEY (job_id, path)
);
CREATE INDEX artifact_sha256 ON artifact (sha256);
-- The bytes, in pieces, when they are kept in the database (PostgreSQL), while the embedded store
-- keeps them as files in its home folder.
CREATE TABLE blob_chunk (
  sha256 TEXT NOT NULL,
  n INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (sha256, n)
);
