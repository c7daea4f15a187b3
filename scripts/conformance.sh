#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance
# 0.1.16, server mode) against our fixture upstream, either directly or
# through the gateway.
#
#   bash scripts/conformance.sh direct  [SUITE ARGS...]   # suite -> fixture
#   bash scripts/conformance.sh gateway [SUITE ARGS...]   # suite -> warden -> fixture
#
# SUITE ARGS go to `conformance server` (e.g. `--scenario tools-list` or
# `--suite all`); the default is the active suite (30 scenarios, 40 checks).
# The suite needs Node >= 22, so it and a Node 22 binary are installed into
# .tools/ (git-ignored) on first use. The fixture and the gateway run on the
# project's own node. Results go to a fresh temp dir, printed at the end.
# The last line is always `conformance: N passed, M failed`; the exit status
# is non-zero if any check failed or the suite did not run cleanly.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODE="${1:-direct}"
[[ $# -gt 0 ]] && shift
case "$MODE" in
  direct | gateway) ;;
  *) echo "usage: bash scripts/conformance.sh direct|gateway [conformance server args...]" >&2; exit 2 ;;
esac

# CONFORMANCE_SUITE_VERSION picks another release of the suite (scripts/conformance-parity.sh runs the
# 0.2.0 alpha with --requirements); each version gets its own tools folder.
SUITE_VERSION="${CONFORMANCE_SUITE_VERSION:-0.1.16}"
TOOLS=.tools
[[ "$SUITE_VERSION" != 0.1.16 ]] && TOOLS=".tools/suite-$SUITE_VERSION"
NODE22="$TOOLS/node_modules/.bin/node"
SUITE_DIR="$TOOLS/node_modules/@modelcontextprotocol/conformance"
READY_TIMEOUT="${CONFORMANCE_READY_TIMEOUT:-30}"   # seconds to wait for a ready line
SUITE_TIMEOUT="${CONFORMANCE_SUITE_TIMEOUT:-900}"  # seconds for the whole suite

# ---- tools -----------------------------------------------------------------
tools_ok() {
  [[ -x "$NODE22" && -f "$SUITE_DIR/package.json" ]] || return 1
  local major
  major="$("$NODE22" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" || return 1
  [[ "$major" -ge 22 ]] || return 1
  [[ "$("$NODE22" -p "require('./$SUITE_DIR/package.json').version" 2>/dev/null)" == "$SUITE_VERSION" ]]
}
if ! tools_ok; then
  echo "conformance.sh: installing node@22 and @modelcontextprotocol/conformance@$SUITE_VERSION into $TOOLS" >&2
  npm install --prefix "$TOOLS" --no-audit --no-fund node@22 "@modelcontextprotocol/conformance@$SUITE_VERSION" >&2
  tools_ok || { echo "conformance.sh: tool install failed" >&2; exit 1; }
fi
[[ "${CONFORMANCE_INSTALL_ONLY:-}" == 1 ]] && exit 0
SUITE_CLI="$SUITE_DIR/$("$NODE22" -p "require('./$SUITE_DIR/package.json').bin.conformance")"

# ---- processes ---------------------------------------------------------------
# CONFORMANCE_OUT: an empty folder for the results (the caller keeps it); default a fresh temp dir.
WORK="${CONFORMANCE_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/warden-conformance.XXXXXX")}"
mkdir -p "$WORK"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_and_wait NAME LOG -- CMD...: starts CMD in the background (stdout and
# stderr to LOG), waits for a line containing "listening on http://..." and
# sets READY_URL to that URL.
start_and_wait() {
  local name="$1" log="$2"
  shift 3
  "$@" >"$log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local deadline=$((SECONDS + READY_TIMEOUT))
  READY_URL=""
  while [[ -z "$READY_URL" ]]; do
    READY_URL="$(sed -n "s#.*listening on \(http://[^[:space:]\"',}]*\).*#\1#p" "$log" | head -n 1)"
    [[ -n "$READY_URL" ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "conformance.sh: $name exited before it was ready; its output:" >&2
      cat "$log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "conformance.sh: $name not ready after ${READY_TIMEOUT}s; its output:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "conformance.sh: $name ready at $READY_URL" >&2
}

start_and_wait fixture "$WORK/fixture.log" -- node --import tsx test/fixtures/conformance-upstream.ts --port 0
FIXTURE_URL="$READY_URL"
TARGET_URL="$FIXTURE_URL"

if [[ "$MODE" == gateway ]]; then
  if [[ ! -f dist/cli/main.js ]]; then
    echo "conformance.sh: dist/cli/main.js is missing; run 'npm run build' first ('npm run conformance' does)" >&2
    exit 1
  fi
  # The gateway seals its signing keys under a vault master key: a fresh one for this run.
  node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64"))' >"$WORK/master.key"
  chmod 600 "$WORK/master.key"
  cat >"$WORK/warden.yml" <<EOF
listen: 127.0.0.1:0
store: $WORK/warden.db
vault: { masterKeyFile: $WORK/master.key }
auth: { mode: none }
policy: { files: [$PWD/test/fixtures/policies/allow-all.cedar] }
mcpServers:
  conformance: { url: $FIXTURE_URL }
EOF
  start_and_wait gateway "$WORK/gateway.log" -- node bin/warden.js serve --config "$WORK/warden.yml"
  TARGET_URL="$READY_URL"
fi

# ---- suite -------------------------------------------------------------------
echo "conformance.sh: running conformance $SUITE_VERSION ($MODE) against $TARGET_URL; output in $WORK" >&2
suite_status=0
TIMEOUT=()
command -v timeout >/dev/null && TIMEOUT=(timeout "$SUITE_TIMEOUT")
"${TIMEOUT[@]}" "$NODE22" "$SUITE_CLI" server --url "$TARGET_URL" -o "$WORK/results" "$@" \
  >"$WORK/suite.log" 2>&1 || suite_status=$?
sed -n '/=== SUMMARY ===/,$p' "$WORK/suite.log" >&2

passed=0
failed=0
if [[ -d "$WORK/results" ]]; then
  read -r passed failed < <("$NODE22" scripts/conformance-summary.mjs "$WORK/results") || true
fi
if [[ "$suite_status" -ne 0 && "$failed" -eq 0 ]]; then
  echo "conformance.sh: the suite exited with status $suite_status; see $WORK/suite.log" >&2
  tail -n 20 "$WORK/suite.log" >&2
fi
echo "conformance.sh: output kept in $WORK (suite.log, results/, *.log of the processes started)" >&2
echo "conformance: $passed passed, $failed failed"
[[ "$failed" -eq 0 && "$suite_status" -eq 0 && "$passed" -gt 0 ]]
