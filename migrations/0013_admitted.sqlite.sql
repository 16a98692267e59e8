-- The jobs admission let go (orchestrator/admission.py), each driven by the server holding
-- its partition (orchestrator/drivers.py) until its saga is finished. worker_id is the warm
-- pool worker kept for the job, or ''.
CREATE TABLE admitted (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL UNIQUE,
  part INTEGER NOT NULL,
  worker_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admitted_part ON admitted (part, n);
