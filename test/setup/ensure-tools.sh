#!/usr/bin/env bash
# Makes sure the programs the tests start are installed: redis-server (Debian package) for the Redis tests and
# chromium for the web UI tests. The .NET SDK cannot be installed from here, so a missing `dotnet` fails the run
# with a message that says so.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The web UI tests drive Debian's chromium with playwright-core (never a downloaded browser).
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test setup: installing ${missing[*]} (Debian packages)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test setup: missing ${missing[*]}; install it first (Debian: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test setup: the .NET SDK (dotnet) is not on the PATH; the end-to-end tests need it (https://dot.net)" >&2
  exit 1
fi
