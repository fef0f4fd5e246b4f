-- A freeze may name the secrets it covers; NULL covers everything (the usual incident freeze).
ALTER TABLE incident_freeze ADD COLUMN secret_ids text[];
