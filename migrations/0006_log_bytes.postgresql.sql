-- Logs hold bytes as the job wrote them, in chunks with the time they were read. A line of
-- the old table becomes a chunk ending in the newline that its job wrote, read at time 0.
CREATE TABLE log_chunk (
  job_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  stream INTEGER NOT NULL,
  at DOUBLE PRECISION NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (job_id, seq)
);
INSERT INTO log_chunk SELECT job_id, seq, stream, 0, convert_to(text || E'\n', 'UTF8') FROM log_line;
DROP TABLE log_line;
-- A job's budget is counted in bytes of output.
ALTER TABLE log_budget RENAME COLUMN lines TO bytes;
UPDATE log_budget SET bytes = (
  SELECT COALESCE(SUM(length(data)), 0) FROM log_chunk WHERE log_chunk.job_id = log_budget.job_id
);
