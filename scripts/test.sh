#!/usr/bin/env bash
# The whole test suite, SQLite and PostgreSQL: builds once, then runs every test target.
# Starts a private PostgreSQL on loopback unless TOLLGATE_TEST_POSTGRES_URL names one.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use as real peers: PostgreSQL, wrk and Redis for the bench's smoke test, curl, openssl,
# poppler-utils and qpdf, Chromium and chromedriver for the pages.
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)   # the README walk-through test pastes curl commands
command -v redis-server >/dev/null || missing+=(redis-server)
command -v openssl >/dev/null || missing+=(openssl)   # a certificate for the SMTP-over-TLS tests
command -v pdftotext >/dev/null || missing+=(poppler-utils)   # invoices' PDFs read back
command -v qpdf >/dev/null || missing+=(qpdf)   # and checked for structure
command -v chromium >/dev/null || missing+=(chromium)   # the console in a real browser
command -v chromedriver >/dev/null || missing+=(chromium-driver)   # driven by selenium
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)   # the test peers' venv
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (Debian packages) for the tests…"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
  elif [[ " ${missing[*]} " == *" postgresql "* ]]; then
    echo "PostgreSQL is needed for the tests: sudo apt-get install postgresql" >&2
    exit 1
  fi
fi

# Every temporary file of the run (data directories, keys, catalogs) goes under one directory,
# removed at the end whatever happened, so failing or killed tests leave nothing behind.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-tests.XXXXXX")
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT

if [ -z "${TOLLGATE_TEST_POSTGRES_URL:-}" ]; then
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-pg.XXXXXX")
  TOLLGATE_TEST_POSTGRES_URL=$(scripts/test-postgres.sh start "$pg_dir")
  export TOLLGATE_TEST_POSTGRES_URL
  trap 'scripts/test-postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"; cleanup' EXIT
fi

# Test peers written in Python (PyJWT verifies our tokens as a product would) live in a venv.
peers="jwt, joserfc, stripe, localstripe, schemathesis, aiosmtpd, standardwebhooks, yaml, stdnum, selenium, selenium_axe_python, zxingcpp, PIL, prometheus_client"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import $peers" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r Tests/peers/requirements.txt
fi
export TOLLGATE_TEST_PYTHON="$PWD/.venv/bin/python"

# Style: the toolchain's swift-format with the repository's .swift-format; any finding fails.
swift format lint --strict --recursive --parallel Sources Tests Package.swift
# swift-format leaves long string literals and comments alone: lines stay within 120 characters.
if long=$(LC_ALL=C.UTF-8 grep -rn --include='*.swift' --exclude-dir=Generated '.\{121,\}' Sources Tests Package.swift); then
  echo "lines over 120 characters:" >&2; echo "$long" >&2; exit 1
fi

# TollgateClient's generated sources match what openapi.yaml generates today.
scripts/generate-client.sh --check

swift build --build-tests

# Swift Testing starts every test at once unless told otherwise: at most this many run together,
# which bounds the PostgreSQL connections and the processes the tests spawn on a small machine.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-16}
# A run that stops making progress is stopped, and the tests still running at that moment are
# named, instead of CI waiting out its own limit with nothing to show.
log="$scratch/swift-test.log"
set +e
# Line-buffered (stdbuf), so that what a stopped run printed last is on the log, not in a buffer.
TMPDIR="$scratch" timeout --kill-after=30 "${TOLLGATE_TEST_TIMEOUT:-2700}" stdbuf -oL -eL swift test --skip-build 2>&1 \
  | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "the tests did not end within ${TOLLGATE_TEST_TIMEOUT:-2700} s; still running then:" >&2
  started=$(grep -oP '◇ Test \K[A-Za-z0-9_]+\([^)]*\)(?= started)' "$log" | sort -u)
  ended=$(grep -oP '[✔✘] Test \K[A-Za-z0-9_]+\([^)]*\)(?=.* (passed|failed) after)' "$log" | sort -u)
  comm -23 <(echo "$started") <(echo "$ended") >&2
fi
exit "$status"
