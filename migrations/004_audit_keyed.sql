-- Keyed audit rows, with seq assigned by the database.
--
-- mac: Vault's transit MAC (key rotor-audit) of the row's chain hash, so a row or a chain
-- recomputed without the key is detected (activities/audit/audit-key.ts). Rows written before
-- this migration keep NULL and verify as legacy rows; the NOT VALID check leaves them alone and
-- refuses every new row without a MAC.
ALTER TABLE audit_log ADD COLUMN mac text;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_mac_required CHECK (mac IS NOT NULL) NOT VALID;

-- seq: drawn from the sequence by a trigger for every row, and an INSERT that names one is
-- refused. An identity column would not do: anyone allowed to INSERT may say OVERRIDING SYSTEM
-- VALUE. SECURITY DEFINER, so rotor_app no longer needs (or has) the sequence itself.
ALTER TABLE audit_log ALTER COLUMN seq DROP DEFAULT;

CREATE FUNCTION audit_log_assign_seq() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF NEW.seq IS NOT NULL THEN
    RAISE EXCEPTION 'audit_log.seq is assigned by the database: insert without it'
      USING ERRCODE = 'generated_always';
  END IF;
  NEW.seq := nextval('public.audit_log_seq_seq');
  RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION audit_log_assign_seq() FROM PUBLIC;

CREATE TRIGGER audit_log_assign_seq
  BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_assign_seq();

REVOKE ALL ON SEQUENCE audit_log_seq_seq FROM rotor_app;
