-- Append-only, hash-chained audit log. rotor_app may only INSERT and SELECT;
-- the trigger also stops the owner from rewriting history by accident, and the
-- hash chain makes any change that bypasses both detectable (`rotor audit verify`).
CREATE TABLE audit_log (
  seq          bigserial   PRIMARY KEY,
  event_key    text        NOT NULL UNIQUE,
  at           timestamptz NOT NULL,
  actor        text        NOT NULL,
  workflow_id  text,
  run_id       text,
  secret_id    text,
  step         text        NOT NULL,
  outcome      text        NOT NULL,
  from_version integer,
  to_version   integer,
  detail       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  prev_hash    text        NOT NULL,
  hash         text        NOT NULL UNIQUE
);

CREATE INDEX audit_log_secret_idx ON audit_log (secret_id, seq);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END;
$$;

CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

GRANT SELECT, INSERT ON audit_log TO rotor_app;
GRANT SELECT ON schema_migrations TO rotor_app;
GRANT USAGE ON SEQUENCE audit_log_seq_seq TO rotor_app;
