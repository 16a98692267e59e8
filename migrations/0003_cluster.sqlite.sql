-- What several orchestrators on one database share.
-- How far the event relay has published each application's notification log to NATS.
CREATE TABLE relay_position (app TEXT PRIMARY KEY, position BIGINT NOT NULL);
-- The installation id and the bootstrap-token key, the same for every orchestrator.
CREATE TABLE shared_secret (name TEXT PRIMARY KEY, value TEXT NOT NULL);
