-- Warm pools (orchestrator/pools.py): how many idle workers to keep, per provider and image.
CREATE TABLE warm_pool (
  provider TEXT NOT NULL,
  image TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (provider, image)
);
-- The pool a worker was provisioned for ('' for a job's own). A pool worker has no job ('')
-- until one claims it.
ALTER TABLE worker_view ADD COLUMN pool TEXT NOT NULL DEFAULT '';
