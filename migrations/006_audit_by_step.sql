-- Metrics (metrics/gauge-sources.ts) read, on every scrape, each secret's last successful rotation
-- and the break-glass grants not yet revoked: by step, without scanning the whole log.
CREATE INDEX audit_log_step_idx ON audit_log (step, secret_id, at);
