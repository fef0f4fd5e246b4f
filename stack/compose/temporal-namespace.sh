#!/bin/sh
# One-shot for docker-compose.yml's `temporal-namespace` service (temporalio/admin-tools): waits
# for the Temporal frontend, registers the namespace rotor uses when it does not exist, and the
# custom search attributes rotor's workflows set (workflows/search-attributes.ts) when missing.
# Idempotent: it runs on every `docker compose up`, and the workers start only after it succeeded.
#
# Environment: TEMPORAL_ADDRESS (host:port), NAMESPACE, NAMESPACE_RETENTION (a duration such as
# 720h), SEARCH_ATTRIBUTES (space-separated Name=Type, e.g. "RotorPhase=Keyword").
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set}"
: "${NAMESPACE:?NAMESPACE is not set}"
: "${NAMESPACE_RETENTION:?NAMESPACE_RETENTION is not set}"
SEARCH_ATTRIBUTES=${SEARCH_ATTRIBUTES:-}

ATTEMPTS=60
PAUSE=2

# Runs "$@" until it succeeds, at most ATTEMPTS times; says what it waited for when it gives up.
retry() {
  what=$1
  shift
  n=1
  until "$@"; do
    if [ "$n" -ge "$ATTEMPTS" ]; then
      echo "temporal-namespace: gave up on ${what} after ${ATTEMPTS} attempts" >&2
      return 1
    fi
    n=$((n + 1))
    sleep "$PAUSE"
  done
}

frontend_serving() {
  temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1
}

namespace_present() {
  temporal operator namespace describe --namespace "$NAMESPACE" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1
}

ensure_namespace() {
  namespace_present && return 0
  temporal operator namespace create --namespace "$NAMESPACE" --retention "$NAMESPACE_RETENTION" \
    --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 || true
  # A new namespace reaches the frontend's cache after a few seconds.
  namespace_present
}

# Present when the namespace's search attribute list names it (a whole word).
attribute_present() {
  temporal operator search-attribute list --namespace "$NAMESPACE" --address "$TEMPORAL_ADDRESS" 2>/dev/null |
    grep -qw -- "$1"
}

ensure_attribute() {
  attribute_present "$1" && return 0
  temporal operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type "$2" \
    --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 || true
  attribute_present "$1"
}

echo "temporal-namespace: waiting for the frontend at ${TEMPORAL_ADDRESS}"
retry 'the Temporal frontend' frontend_serving
retry "namespace ${NAMESPACE}" ensure_namespace
echo "temporal-namespace: namespace ${NAMESPACE} is registered"
for entry in $SEARCH_ATTRIBUTES; do
  name=${entry%%=*}
  type=${entry#*=}
  retry "search attribute ${name}" ensure_attribute "$name" "$type"
  echo "temporal-namespace: search attribute ${name} (${type}) is registered"
done
echo 'temporal-namespace: done'
