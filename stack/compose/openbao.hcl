# OpenBao server configuration for docker-compose.yml (production shape, single node).
# Mounted read-only at /openbao/config/openbao.hcl; the image's entrypoint starts
# `bao server -config=/openbao/config`. Unseal keys and the root token come from
# `bao operator init` (see README, "Running with Docker Compose") and are never stored here.

# File storage in the `openbao-data` named volume. For HA, switch to integrated storage
# (raft) with a cluster_addr; rotor does not care which backend holds its KV v2 data.
storage "file" {
  path = "/openbao/file"
}

# Plain HTTP inside the compose network only: compose publishes 8200 on 127.0.0.1 alone.
# Anything that reaches this listener from another host must go through TLS (set
# tls_cert_file/tls_key_file here and use https:// in ROTOR_VAULT_ADDR).
listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr = "http://openbao:8200"

# Memory locking needs CAP_IPC_LOCK; the container runs without it (SKIP_SETCAP), so run the
# host without swap, or grant IPC_LOCK in docker-compose.yml and set this to false.
disable_mlock = true

ui = false

# OpenBao refuses to enable audit devices over the API: the device is declared here.
# Every request and response (values HMAC'd) goes to the `openbao-logs` named volume.
# If the device cannot write, OpenBao refuses requests rather than serve them unaudited.
audit "file" "file" {
  options {
    file_path = "/openbao/logs/audit.log"
  }
}
