-- Operations (observe/running-rotations.ts) read one run's rows to tell when its phase began.
CREATE INDEX audit_log_run_idx ON audit_log (run_id);
