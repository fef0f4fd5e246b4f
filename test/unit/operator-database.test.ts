import { describe, expect, it } from 'vitest';
import { CliError } from '../../cli/cli-error.js';
import { parseDatabaseLocation } from '../../cli/operator-database.js';

describe('ROTOR_AUDIT_DATABASE', () => {
  it('keeps the loopback in plaintext and sends the auditor login elsewhere over verified TLS unless told otherwise', () => {
    expect(parseDatabaseLocation('127.0.0.1:5544/rotor')).toEqual({ host: '127.0.0.1', port: 5544, database: 'rotor', sslmode: 'disable' });
    expect(parseDatabaseLocation('localhost:5432/rotor').sslmode).toBe('disable');
    expect(parseDatabaseLocation('db.internal:5432/rotor').sslmode).toBe('verify-full');
    expect(parseDatabaseLocation('[2001:db8::1]:5432/rotor')).toMatchObject({ host: '2001:db8::1', sslmode: 'verify-full' });
    expect(parseDatabaseLocation('db.internal:5432/rotor?sslmode=require').sslmode).toBe('require');
    expect(parseDatabaseLocation('db.internal:5432/rotor?sslmode=disable').sslmode).toBe('disable');
  });

  it('refuses credentials or a malformed location, naming the variable', () => {
    for (const bad of ['postgres://u:p@db:5432/rotor', 'db.internal/rotor', 'db.internal:99999/rotor', 'db:5432/rotor?sslmode=prefer']) {
      const err = (() => {
        try {
          parseDatabaseLocation(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CliError);
      expect((err as Error).message).toMatch(/^ROTOR_AUDIT_DATABASE must be host:port\/dbname/);
    }
  });
});
