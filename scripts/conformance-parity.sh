#!/usr/bin/env bash
# The MCP conformance suite's 0.2.0 alpha (server mode, `--requirements` per revision) against the repo's
# fixture upstream, directly and through the gateway, for both revisions the gateway serves clients in
# (2025-11-25 and 2026-07-28). Fails if any scenario that passes directly fails through the gateway.
# The direct and gateway runs of one revision go in parallel, to keep CI time down.
#
#   bash scripts/conformance-parity.sh [REVISION...]      # default: 2025-11-25 2026-07-28
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CONFORMANCE_SUITE_VERSION=0.2.0-alpha.12
REVISIONS=("$@")
[[ ${#REVISIONS[@]} -eq 0 ]] && REVISIONS=(2025-11-25 2026-07-28)
OUT="$(mktemp -d "${TMPDIR:-/tmp}/warden-parity.XXXXXX")"
NODE22=".tools/suite-$CONFORMANCE_SUITE_VERSION/node_modules/.bin/node"

# Install the suite once, before the parallel runs (each would otherwise try to).
CONFORMANCE_INSTALL_ONLY=1 bash scripts/conformance.sh direct

status=0
for rev in "${REVISIONS[@]}"; do
  CONFORMANCE_OUT="$OUT/$rev-direct" bash scripts/conformance.sh direct --requirements "$rev" >"$OUT/$rev-direct.log" 2>&1 &
  direct=$!
  CONFORMANCE_OUT="$OUT/$rev-gateway" bash scripts/conformance.sh gateway --requirements "$rev" >"$OUT/$rev-gateway.log" 2>&1 &
  gateway=$!
  wait "$direct" || true
  wait "$gateway" || true
  if [[ ! -d "$OUT/$rev-direct/results" || ! -d "$OUT/$rev-gateway/results" ]]; then
    echo "conformance-parity: the $rev runs left no results; see $OUT/$rev-*.log" >&2
    tail -n 20 "$OUT/$rev-direct.log" "$OUT/$rev-gateway.log" >&2
    status=1
    continue
  fi
  "$NODE22" scripts/conformance-parity.mjs "$OUT/$rev-direct/results" "$OUT/$rev-gateway/results" "$rev" || status=1
done
echo "conformance-parity: output kept in $OUT" >&2
exit "$status"
