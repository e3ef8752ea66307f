#!/usr/bin/env bash
# PostgreSQL for the PostgreSQL store tests (issue 9). Installs Debian's server package when no server
# binaries are present; the tests themselves (test/helpers/pg-cluster.ts) initdb and start a throwaway
# cluster per test file on a free 127.0.0.1/127.0.0.2 port, as the `postgres` system user when run as root,
# and fail (not skip) under CI when this script could not provide a server.
set -euo pipefail

have_server() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

if ! have_server; then
  if [ "$(id -u)" != 0 ]; then
    echo "pg-setup: PostgreSQL server binaries missing and not root: apt-get install postgresql" >&2
    exit 1
  fi
  echo "pg-setup: installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  # The tests start their own clusters: do not create (or start) the package's default "main" cluster.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/boxqc-no-main.conf
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1 && ! id -u nobody >/dev/null 2>&1; then
  echo "pg-setup: no non-root user (postgres or nobody) to run the server as" >&2
  exit 1
fi
echo "pg-setup: $("$bindir/postgres" --version) in $bindir"
