/**
 * The worker's least-privilege policy: KV data under the rotor mount, metadata deletion only for
 * staged (pending) credentials, AppRole secret-id management for consumers, lease revocation,
 * database creds for break-glass and response wrapping, and token lookup/revocation by accessor
 * (an emergency AppRole rotation ends the tokens of a compromised secret ID). No sys/mounts, no
 * policy writes.
 */
export const WORKER_POLICY = `
path "rotor/data/*" { capabilities = ["create", "read", "update"] }
path "rotor/metadata/*" { capabilities = ["read", "list", "update"] }
path "rotor/metadata/_rotor/pending/*" { capabilities = ["read", "list", "update", "delete"] }
path "auth/approle/role/+/secret-id" { capabilities = ["update"] }
path "auth/approle/role/+/custom-secret-id" { capabilities = ["update"] }
path "auth/approle/role/+/secret-id/lookup" { capabilities = ["update"] }
path "auth/approle/role/+/secret-id-accessor/destroy" { capabilities = ["update"] }
path "auth/approle/role/+/secret-id-accessor/lookup" { capabilities = ["update"] }
path "auth/approle/role/+/role-id" { capabilities = ["read"] }
path "auth/approle/role/rotor-worker/*" { capabilities = ["deny"] }
path "auth/approle/login" { capabilities = ["update"] }
path "database/config/rotor-*" { capabilities = ["create", "update", "read"] }
path "database/creds/breakglass-*" { capabilities = ["read"] }
path "database/roles/breakglass-*" { capabilities = ["create", "update", "read", "delete"] }
path "sys/leases/revoke" { capabilities = ["update"] }
path "sys/leases/lookup" { capabilities = ["update"] }
path "sys/leases/revoke-prefix/database/creds/*" { capabilities = ["update", "sudo"] }
path "sys/leases/revoke-force/database/creds/*" { capabilities = ["update", "sudo"] }
path "sys/leases/lookup/database/creds/*" { capabilities = ["list", "sudo"] }
path "sys/wrapping/wrap" { capabilities = ["update"] }
path "auth/token/accessors" { capabilities = ["list", "sudo"] }
path "auth/token/lookup-accessor" { capabilities = ["update"] }
path "auth/token/revoke-accessor" { capabilities = ["update"] }
`;
