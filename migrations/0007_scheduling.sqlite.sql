-- Queued jobs are placed by priority first (orchestrator/admission.py). Jobs from before had 0.
ALTER TABLE job_view ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX job_view_queue ON job_view (state, priority, n);
-- When a job's output was deleted for its age (orchestrator/retention.py), 0 while it is kept.
ALTER TABLE job_view ADD COLUMN logs_expired_at REAL NOT NULL DEFAULT 0;
