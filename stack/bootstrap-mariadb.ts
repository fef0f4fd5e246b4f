import mysql from 'mysql2/promise';
import { nativePasswordHash } from '../activities/providers/mysql/target-connection.js';
import { VaultClient } from '../vault/vault-client.js';
import { demoAdminCredential } from './demo-admin-credential.js';
import type { MariadbServer } from './mariadb-server.js';

/** Where the demo MariaDB target's admin credential lives in Vault; the mysql provider reads it from there. */
export const DEMO_MYSQL_ADMIN_PATH = '_rotor/admin/demo-mysql';

export const DEMO_MYSQL_DB = 'demo';
/** The demo inventory's `grantRole` for inventory-db. */
export const DEMO_MYSQL_ROLE = 'demo_inventory';
const ADMIN_USER = 'rotor_admin';

/**
 * The demo database (`demo.orders`) and an admin user whose password is stored only in Vault,
 * with what the mysql provider and Vault's mysql plugin need: create users and grant them what it
 * holds, read the grant tables, see and kill other users' connections. Idempotent; a re-run keeps
 * the password Vault holds.
 */
export async function bootstrapMariadb(server: MariadbServer, vaultAddress: string, rootToken: string): Promise<void> {
  const vault = new VaultClient(vaultAddress, rootToken);
  const credential = await demoAdminCredential(vault, DEMO_MYSQL_ADMIN_PATH, {
    username: ADMIN_USER,
    host: server.host,
    port: server.port,
  });

  const root = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user: server.rootUser,
    password: server.rootPassword,
    connectTimeout: 10_000,
  });
  try {
    await root.query(`CREATE DATABASE IF NOT EXISTS ${DEMO_MYSQL_DB}`);
    await root.query(
      `CREATE TABLE IF NOT EXISTS ${DEMO_MYSQL_DB}.orders (
         id INT AUTO_INCREMENT PRIMARY KEY,
         item VARCHAR(200) NOT NULL,
         created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
       )`,
    );
    // The hash, never the password: statements reach the server's logs.
    const auth = `IDENTIFIED WITH mysql_native_password AS '${nativePasswordHash(credential.password)}'`;
    await root.query(`CREATE USER IF NOT EXISTS '${ADMIN_USER}'@'%' ${auth}`);
    await root.query(`ALTER USER '${ADMIN_USER}'@'%' ${auth} ACCOUNT UNLOCK`);
    // CREATE USER: create, alter, lock and drop the rotated and break-glass users. PROCESS: see
    // every connection (observed cutover). CONNECTION ADMIN: KILL them (emergency, break-glass end).
    await root.query(`GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '${ADMIN_USER}'@'%'`);
    // The grant tables: which users exist, SHOW GRANTS FOR another user; UPDATE for SET DEFAULT ROLE FOR another user.
    await root.query(`GRANT SELECT, UPDATE ON mysql.* TO '${ADMIN_USER}'@'%'`);
    // What the rotated users may be given (copied grants, break-glass SELECT).
    await root.query(`GRANT ALL PRIVILEGES ON ${DEMO_MYSQL_DB}.* TO '${ADMIN_USER}'@'%' WITH GRANT OPTION`);
    // The demo secret's application role (provider.grantRole): what its alternating users may do,
    // given to the first one rotor creates at seeding, which has no active user to copy from.
    await root.query(`CREATE ROLE IF NOT EXISTS ${DEMO_MYSQL_ROLE}`);
    await root.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${DEMO_MYSQL_DB}.* TO ${DEMO_MYSQL_ROLE}`);
    await root.query(`GRANT ${DEMO_MYSQL_ROLE} TO '${ADMIN_USER}'@'%' WITH ADMIN OPTION`);
  } finally {
    await root.end();
  }
}
