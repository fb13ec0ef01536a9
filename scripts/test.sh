#!/usr/bin/env bash
# The one test command (README, .ci/run): installs and starts what the tests need, then runs
# every test of the workspace. Safe to run again; needs only the Rust toolchain and apt.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# openpyxl: tanso-report's tests run shared/tools/aef_check.py on the workbooks they write, and
# fail (never skip) without it. Install it for the python3 on PATH (pip), else from apt.
if ! python3 -c 'import openpyxl' >/dev/null 2>&1; then
  echo "test.sh: installing openpyxl"
  python3 -m pip install --quiet openpyxl 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages openpyxl 2>/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-openpyxl; }
  python3 -c 'import openpyxl'
fi
python3 -c 'import schemathesis' >/dev/null 2>&1 || { echo "test.sh: installing schemathesis (scripts/api-fuzz.sh)"; python3 -m pip install --quiet schemathesis 2>/dev/null || python3 -m pip install --quiet --break-system-packages schemathesis; }

# PostgreSQL: the conformance suite on the PostgreSQL backend, the failover test and the CLI
# tests on --db use a real server at $TANSO_TEST_PG (default
# postgres://postgres@127.0.0.1:5432/postgres). Start it if it is installed and down; install
# it if it is missing.
ensure_postgres() {
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
    return 0
  fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "test.sh: installing PostgreSQL"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client
  fi
  for v in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
  done
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 1
  done
  echo "test.sh: PostgreSQL did not start" >&2
  return 1
}
# The tests connect over TCP without a password, as postgres (migrations) and as the service
# role tanso_service (which the first migration creates). A fresh Debian install asks for
# passwords on 127.0.0.1: then trust loopback connections (this is a test machine).
ensure_trust() {
  psql -qtA -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
  echo "test.sh: trusting loopback connections in pg_hba.conf"
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    grep -q '^host all all 127.0.0.1/32 trust' "$hba" \
      || sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  done
  for v in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main reload 2>/dev/null || true
  done
  sleep 1
  psql -qtA -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' >/dev/null
}
ensure_postgres
ensure_trust

cargo test --workspace --all-targets "$@"
