-- Each job's provider, for the providers' queues (PoolService.ListQueues). Rows written
-- before this get theirs at their job's next event.
ALTER TABLE job_view ADD COLUMN provider TEXT NOT NULL DEFAULT '';
CREATE INDEX job_view_provider ON job_view (provider, state);
