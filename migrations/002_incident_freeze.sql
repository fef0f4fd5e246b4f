-- A durable incident freeze: while a row is active, pre-checks refuse new rotations outside
-- the incident and break-glass refuses new grants. Lifting it is an UPDATE by an operator.
CREATE TABLE incident_freeze (
  incident_id  text        PRIMARY KEY,
  reason       text        NOT NULL,
  started_by   text        NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  lifted_by    text,
  lifted_at    timestamptz
);

GRANT SELECT, INSERT, UPDATE ON incident_freeze TO rotor_app;
