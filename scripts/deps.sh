#!/bin/sh
# deps.sh - install the Debian packages stsguard needs to build, test and
# run, when they are missing. Called by `make run` and `make test`; safe to
# run again (it only asks apt-get for what dpkg says is not installed).
# Uses sudo when not root.
set -eu

# Build: compiler, libraries (DESIGN.md), unit tests.
BUILD="build-essential pkg-config clang libssl-dev libevent-dev
libcurl4-openssl-dev libjansson-dev libsqlite3-dev libpq-dev libidn2-dev zlib1g-dev
libgmime-3.0-dev libunbound-dev libldns-dev libsodium-dev libcmocka-dev
libopendkim-dev"
# Tests with real peers and the tools the test scripts call.
PEERS="curl openssl sqlite3 iproute2 procps psmisc dnsutils nsd knot pebble
postfix-mta-sts-resolver swaks libnet-ssleay-perl postfix python3-dkim
chromium fonts-dejavu-core libnss3-tools python3-jsonschema python3-yaml
prometheus systemd man-db groff-base strace ldnsutils postgresql-15
postgresql-client-15"
# The dashboard's browser test drives that Chromium with playwright-core
# (npm, pinned), installed into .deps/node of the tree (not in git).
PLAYWRIGHT=playwright-core@1.49.1
# Benchmarks only (bench/): the peers we measure against and the load.
BENCH="nginx h2o wrk jq linux-perf strace python3 postgresql-15 curl openssl"

case "${1:-}" in
--build-only)	want="$BUILD" ;;
--bench)	want="$BUILD $BENCH" ;;
*)		want="$BUILD $PEERS" ;;
esac

missing=
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
# Node and npm: Debian's packages, unless a node is there already (a
# NodeSource node brings its own npm and conflicts with Debian's).
if [ "${1:-}" != "--build-only" ] && ! command -v npm >/dev/null; then
	missing="$missing nodejs npm"
fi

if [ -n "$missing" ]; then
	echo "deps: installing:$missing" >&2
	SUDO=
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	# postfix (pulled in by some peers) asks a question unless told.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    $SUDO debconf-set-selections 2>/dev/null || true
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing \
	    >/dev/null
fi

if [ "${1:-}" != "--build-only" ]; then
	top=$(cd "$(dirname "$0")/.." && pwd)
	if [ ! -f "$top/.deps/node/node_modules/playwright-core/package.json" ]
	then
		echo "deps: npm install $PLAYWRIGHT into .deps/node" >&2
		npm install --prefix "$top/.deps/node" --no-audit --no-fund \
		    --silent "$PLAYWRIGHT" >/dev/null
	fi
fi
