-- laino's own tables beside the event stores: read models and the log store.
CREATE TABLE job_view (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  exit_code INTEGER,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);
CREATE INDEX job_view_state ON job_view (state);
CREATE TABLE job_label (
  job_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (job_id, key)
);
CREATE INDEX job_label_kv ON job_label (key, value);
CREATE TABLE worker_view (
  id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  state TEXT NOT NULL,
  provider TEXT NOT NULL,
  name TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at REAL NOT NULL
);
CREATE TABLE open_saga (job_id TEXT PRIMARY KEY);
CREATE TABLE view_position (app TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE log_line (
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  stream INTEGER NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
CREATE TABLE log_budget (
  job_id TEXT PRIMARY KEY,
  lines INTEGER NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0
);
