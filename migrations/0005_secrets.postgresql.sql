-- Job secrets, sealed with the installation's key, and removed when the job ends.
CREATE TABLE job_secret (
  job_id TEXT NOT NULL,
  name TEXT NOT NULL,
  sealed TEXT NOT NULL,
  PRIMARY KEY (job_id, name)
);
