#!/usr/bin/env bash
# Bounded schemathesis run against the OpenAPI document served by `tanso serve`, once per role
# (and once anonymously), with the document's explicit examples plus a few generated cases per
# operation. Fails on any 5xx, any response that breaks the document (status code, content
# type, body schema), and any operation that no role got a 2xx from.
#
#   scripts/api-fuzz.sh [BINARY]        (default target/debug/tanso)
#
# Environment: API_FUZZ_MAX_EXAMPLES (generated cases per operation and phase, default 10),
# API_FUZZ_SEED (default 1), API_FUZZ_KEEP=1 keeps the temp dir (printed at the end).
# Needs python3 with schemathesis 4.x (`python3 -m pip install schemathesis`) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${1:-target/debug/tanso}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
[ -x "$BIN" ] || { echo "api-fuzz: no binary at $BIN (cargo build first)" >&2; exit 2; }
MAX_EXAMPLES=${API_FUZZ_MAX_EXAMPLES:-10}
SEED=${API_FUZZ_SEED:-1}

if ! python3 -c 'import schemathesis' >/dev/null 2>&1; then
  echo "api-fuzz: installing schemathesis"
  python3 -m pip install --quiet schemathesis 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages schemathesis
fi
ST=(python3 -m schemathesis.cli)
"${ST[@]}" --version >/dev/null 2>&1 || ST=(st)

started=$(date +%s)
WORK=$(mktemp -d -t tanso-api-fuzz.XXXXXX)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "api-fuzz: the server did not stop within 10s of SIGTERM; killing it" >&2
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
  fi
  if [ "${API_FUZZ_KEEP:-0}" = 1 ]; then
    echo "api-fuzz: kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

D=$WORK/data K=$WORK/keys
T() { "$BIN" --data "$D" --keys "$K" "$@"; }

T demo >"$WORK/demo.log" 2>&1 || { tail -20 "$WORK/demo.log" >&2; exit 2; }
ADMIN_TOKEN=$(T admin bootstrap --user root-admin | tail -n 1)

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
"$BIN" --data "$D" --keys "$K" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$BASE/api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/serve.log" >&2; exit 2; }
  sleep 0.1
done
curl -fsS "$BASE/api/v1/openapi.json" -o "$WORK/openapi.json"

# call METHOD PATH TOKEN [BODY [EXTRA_CURL_ARGS...]]: prints the body; fails unless 2xx.
call() {
  local method=$1 path=$2 token=$3 body=${4:-} out code
  shift 4 2>/dev/null || shift $#
  local args=(-sS -X "$method" -o "$WORK/call.out" -w '%{http_code}' -H 'Content-Type: application/json')
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(--data "$body")
  code=$(curl "${args[@]}" "$@" "$BASE$path")
  out=$(cat "$WORK/call.out")
  if [ "${code:0:1}" != 2 ]; then
    echo "api-fuzz: setup $method $path -> $code $out" >&2
    return 1
  fi
  printf '%s' "$out"
}
token_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }

# No rate limiting while fuzzing (reset after every role too: the admin's run may change it).
POLICIES='{"rate_limit_per_second": 0}'
call PUT /api/v1/access_policies "$ADMIN_TOKEN" "$POLICIES" >/dev/null

# One user per role, each with a service token. The auditor is the examples' `demo-auditor`
# (with the password of the create_session example).
declare -A TOKENS=([registry_admin]=$ADMIN_TOKEN)
mkuser() { # ROLE USER SCOPE [PASSWORD]
  local role=$1 user=$2 scope=$3 pw=${4:-}
  local pwj=null
  [ -n "$pw" ] && pwj="\"$pw\""
  call POST /api/v1/users "$ADMIN_TOKEN" \
    "{\"id\": \"$user\", \"password\": $pwj, \"grants\": [{\"role\": \"$role\", \"scope\": \"$scope\", \"initiate\": true, \"approve\": true}]}" >/dev/null
  TOKENS[$role]=$(call POST "/api/v1/users/$user/tokens" "$ADMIN_TOKEN" '{"label": "api-fuzz"}' | token_of)
}
mkuser registry_officer fuzz-officer IND01
mkuser account_representative fuzz-ar IND01/1003
mkuser jc_member fuzz-jc mechanism:JCM-IND-JPN
mkuser verifier fuzz-verifier mechanism:JCM-IND-JPN
mkuser national_authority fuzz-na party:IND
mkuser participant fuzz-participant mechanism:CCTS-IND
mkuser auditor demo-auditor '*' 'correct horse battery staple'

# Account 1004 of IND01: the commands examples transfer (dry run) from 1003 to it, and the
# trusted-account example adds it; the demo has no such account.
call POST /api/v1/commands "$ADMIN_TOKEN" \
  '{"id": "api-fuzz-open-1004", "chain": "IND01", "command": "open_account", "account": 1004, "holder": 3, "kind": "entity-holding"}' >/dev/null

# The approvals the examples decide: issuances by the officer, pending until a second officer
# (the administrator) approves or rejects them.
for id in example-approval-1 example-approval-2; do
  call POST /api/v1/commands "${TOKENS[registry_officer]}" \
    "{\"chain\": \"IND01\", \"command\": \"issue\", \"account\": 1080, \"kind\": \"JCM\", \"project\": \"IN001\", \"period\": {\"start\": \"2026-01-01\", \"end\": \"2026-12-31\"}, \"quantity\": 5}" \
    -H "Idempotency-Key: $id" >"$WORK/$id.json"
  grep -q awaiting_approval "$WORK/$id.json" || { echo "api-fuzz: $id is not pending: $(cat "$WORK/$id.json")" >&2; exit 2; }
done

# The examples phase sends the document's explicit examples only (not also ids harvested from
# earlier responses, which would let e.g. approve_approval decide example-approval-2 before
# reject_approval's example gets to it); coverage and fuzzing still use harvested values.
cat >"$WORK/schemathesis.toml" <<'TOML'
[phases.examples]
extra-data-sources.responses = false
TOML

# One schemathesis run per role; the administrator last (its run changes users and policies).
# Run from $WORK so that schemathesis' and hypothesis' caches stay in the temp dir.
ROLES=(anonymous auditor participant national_authority verifier jc_member account_representative registry_officer registry_admin)
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
st_status=0
for role in "${ROLES[@]}"; do
  hdr=()
  [ "$role" != anonymous ] && hdr=(-H "Authorization: Bearer ${TOKENS[$role]}")
  t0=$(date +%s)
  set +e
  (cd "$WORK" && "${ST[@]}" --config-file "$WORK/schemathesis.toml" run "$WORK/openapi.json" --url "$BASE" "${hdr[@]}" \
    --phases "${API_FUZZ_PHASES:-examples,coverage,fuzzing}" --max-examples "$MAX_EXAMPLES" --seed "$SEED" \
    --checks "$CHECKS" --generation-with-security-parameters false --workers 1 --no-shrink --generation-database none \
    --suppress-health-check all --continue-on-failure --request-timeout 20 \
    --report vcr --report-vcr-path "$WORK/cassette-$role.yaml" \
    --no-color >"$WORK/st-$role.log" 2>&1)
  rc=$?
  set -e
  echo "api-fuzz: $role: schemathesis exit $rc ($(( $(date +%s) - t0 ))s)"
  if [ $rc -ne 0 ]; then
    st_status=1
    sed -n '/=== \(ERRORS\|FAILURES\) ===/,/=== SUMMARY ===/p' "$WORK/st-$role.log" | cut -c1-300 | head -150
  fi
  call PUT /api/v1/access_policies "$ADMIN_TOKEN" "$POLICIES" >/dev/null
done

# A handler panic answers 503 (counted below), but say so plainly too.
if grep -q 'panicked' "$WORK/serve.log"; then
  echo "api-fuzz: the server panicked:" >&2
  grep -A3 'panicked' "$WORK/serve.log" | head -40 >&2
  st_status=1
fi

cassettes=()
for role in "${ROLES[@]}"; do cassettes+=("$WORK/cassette-$role.yaml"); done
set +e
python3 scripts/api_fuzz_report.py --st-status "$st_status" --seconds "$(( $(date +%s) - started ))" \
  "$WORK/openapi.json" "${cassettes[@]}"
rc=$?
set -e
exit $rc
