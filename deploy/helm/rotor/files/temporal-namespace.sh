#!/bin/sh
# Registers the Temporal namespace rotor uses when it does not exist, and the custom search
# attributes rotor's workflows set (workflows/search-attributes.ts) when missing, after waiting for
# the frontend. Runs in temporalio/admin-tools, as docker-compose.yml's `temporal-namespace`
# service and as the Helm chart's temporal-setup hook Job (deploy/helm/rotor/files/ holds a copy of
# this file that test/unit/helm-chart.test.ts keeps identical).
# Idempotent: it runs on every `docker compose up` (every `helm install`/`upgrade`), and the workers
# start only after it succeeded. It creates only what `namespace describe` / `search-attribute list`
# do not show, and prints the error of a create that fails.
#
# Environment: TEMPORAL_ADDRESS (host:port), NAMESPACE, NAMESPACE_RETENTION (a duration such as
# 720h), SEARCH_ATTRIBUTES (space-separated Name=Type, e.g. "RotorPhase=Keyword"); ATTEMPTS, PAUSE.
# TLS to the frontend (all optional): TLS_ENABLED=true, TLS_CA_PATH, TLS_CERT_PATH + TLS_KEY_PATH
# (mTLS), TLS_SERVER_NAME; passed to the CLI as --tls, --tls-ca-path, --tls-cert-path,
# --tls-key-path, --tls-server-name.
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set}"
: "${NAMESPACE:?NAMESPACE is not set}"
: "${NAMESPACE_RETENTION:?NAMESPACE_RETENTION is not set}"
SEARCH_ATTRIBUTES=${SEARCH_ATTRIBUTES:-}
TLS_ENABLED=${TLS_ENABLED:-false}

# Each step is tried ATTEMPTS times, PAUSE seconds apart (about two minutes).
ATTEMPTS=${ATTEMPTS:-60}
PAUSE=${PAUSE:-2}

# The Temporal CLI with "$@", the frontend's address and the TLS flags that are set.
cli() {
  set -- "$@" --address "$TEMPORAL_ADDRESS"
  if [ "$TLS_ENABLED" = true ]; then
    set -- "$@" --tls
    if [ -n "${TLS_CA_PATH:-}" ]; then set -- "$@" --tls-ca-path "$TLS_CA_PATH"; fi
    if [ -n "${TLS_CERT_PATH:-}" ]; then set -- "$@" --tls-cert-path "$TLS_CERT_PATH"; fi
    if [ -n "${TLS_KEY_PATH:-}" ]; then set -- "$@" --tls-key-path "$TLS_KEY_PATH"; fi
    if [ -n "${TLS_SERVER_NAME:-}" ]; then set -- "$@" --tls-server-name "$TLS_SERVER_NAME"; fi
  fi
  temporal "$@"
}

# The last non-empty line of $1: the CLI's error (after the usage text it prints for a bad flag).
last_line() {
  printf '%s\n' "$1" | sed '/^[[:space:]]*$/d' | tail -n 1
}

# Runs "$@" until it succeeds, at most ATTEMPTS times; says what it waited for when it gives up.
retry() {
  what=$1
  shift
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge "$ATTEMPTS" ]; then
      echo "temporal-namespace: gave up on ${what} after ${ATTEMPTS} attempts" >&2
      return 1
    fi
    attempt=$((attempt + 1))
    sleep "$PAUSE"
  done
}

# The first failed health check's output is shown at once (a wrong address or TLS setting is
# visible before the retries run out), the last one when the frontend never answers.
health_output=''
health_failures=0
frontend_serving() {
  health_output=$(cli operator cluster health 2>&1) && return 0
  health_failures=$((health_failures + 1))
  if [ "$health_failures" -eq 1 ]; then
    echo "temporal-namespace: the frontend does not answer yet (retrying): $(last_line "$health_output")" >&2
  fi
  return 1
}

namespace_present() {
  cli operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1
}

ensure_namespace() {
  namespace_present && return 0
  if ! output=$(cli operator namespace create --namespace "$NAMESPACE" --retention "$NAMESPACE_RETENTION" 2>&1); then
    # Another set-up may have created it meanwhile; anything else is this attempt's failure.
    namespace_present && return 0
    echo "temporal-namespace: creating namespace ${NAMESPACE} failed (attempt ${attempt}/${ATTEMPTS}): $(last_line "$output")" >&2
    return 1
  fi
  # A new namespace reaches the frontend's cache after a few seconds: done once the search
  # attribute API (which the next steps call) knows it too.
  namespace_present && cli operator search-attribute list --namespace "$NAMESPACE" >/dev/null 2>&1
}

# Present when the namespace's search attribute list names it (a whole word).
attribute_present() {
  cli operator search-attribute list --namespace "$NAMESPACE" 2>/dev/null | grep -qw -- "$1"
}

ensure_attribute() {
  attribute_present "$1" && return 0
  if ! output=$(cli operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type "$2" 2>&1); then
    attribute_present "$1" && return 0
    echo "temporal-namespace: creating search attribute ${1} (${2}) failed (attempt ${attempt}/${ATTEMPTS}): $(last_line "$output")" >&2
    return 1
  fi
  attribute_present "$1"
}

echo "temporal-namespace: waiting for the frontend at ${TEMPORAL_ADDRESS}"
if ! retry 'the Temporal frontend' frontend_serving; then
  echo "temporal-namespace: last answer: $(last_line "$health_output")" >&2
  exit 1
fi
retry "namespace ${NAMESPACE}" ensure_namespace
echo "temporal-namespace: namespace ${NAMESPACE} is registered"
for entry in $SEARCH_ATTRIBUTES; do
  name=${entry%%=*}
  type=${entry#*=}
  retry "search attribute ${name}" ensure_attribute "$name" "$type"
  echo "temporal-namespace: search attribute ${name} (${type}) is registered"
done
echo 'temporal-namespace: done'
