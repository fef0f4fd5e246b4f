-- Scrape-time reads of metrics/gauge-sources.ts, sized by what they return rather than by the log's history.
-- Each secret's last successful rotation: one probe per secret (ORDER BY at DESC LIMIT 1). The
-- predicate is the query's exactly, so the planner can use it; it holds one row per success only.
CREATE INDEX audit_log_last_success_idx ON audit_log (secret_id, at DESC)
  WHERE step = 'rotation_finished' AND outcome = 'succeeded';
-- Active break-glass grants: each grant's revocation is one probe here (audit_log_step_idx would
-- read every revocation of the secret). Not a time window: a grant whose revocation keeps failing
-- must stay visible however old it is (RotorBreakGlassGrantPastTtl), and a policy's maxTtl can be
-- lowered or the policy removed after its grants were issued. The grant rows themselves are read by
-- audit_log_step_idx: their number grows only with grants, each approved by people.
CREATE INDEX audit_log_grant_revoked_idx ON audit_log (secret_id, workflow_id, at)
  WHERE step = 'break_glass_revoke' AND outcome = 'succeeded';
