#!/usr/bin/env bash
# What the tests need besides Python packages: PostgreSQL's server programs (initdb, pg_ctl,
# postgres) for tests/test_db.py, which starts its own throw-away server on loopback. Nothing is
# started here. Safe to run again: it installs only what is missing and says what it did.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# initdb on PATH, else the newest Debian/Ubuntu install under /usr/lib/postgresql/<version>/bin.
find_initdb() {
    if command -v initdb >/dev/null 2>&1; then
        command -v initdb
        return 0
    fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$found" ] && echo "$found"
}

if initdb_path=$(find_initdb); then
    echo "ci_services: PostgreSQL found: $initdb_path ($("$initdb_path" --version)); nothing to do"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ci_services: PostgreSQL (initdb, pg_ctl) is not installed and apt-get is not available;" \
        "install PostgreSQL 13 or newer and put its bin folder on PATH" >&2
    exit 1
fi

echo "ci_services: PostgreSQL not found; installing the Debian package 'postgresql' with apt-get"
# The tests make their own cluster: ask the package not to create and start a default one.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    as_root mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
    echo "ci_services: wrote /etc/postgresql-common/createcluster.conf (no default cluster)"
fi
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql >/dev/null

if ! initdb_path=$(find_initdb); then
    echo "ci_services: the postgresql package is installed but initdb was not found" >&2
    exit 1
fi
echo "ci_services: installed $("$initdb_path" --version) in $(dirname "$initdb_path")"
