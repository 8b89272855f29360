#!/usr/bin/env bash
# Installs, from Debian's packages, everything the test suite starts: PostgreSQL, RabbitMQ,
# nginx (and its nchan module, a peer of `npm run bench:compare` and its self-test), Chromium
# (browser tests; never downloaded by Playwright), Prometheus (promtool tests the alert
# rules, a real server checks the dashboard's queries), Go (the README's Go token-minting
# snippet is run as shown, standard library only) and libfaketime (a node with a skewed
# clock in the clock-skew test). Idempotent and quick
# when everything is present, so `npm test` can call it on every run. Root or sudo.
# The services are started by scripts/services/up.sh, not by the packages' init scripts:
# this script starts none and stops none.
set -euo pipefail
packages=(postgresql rabbitmq-server nginx-light libnginx-mod-nchan chromium chromium-driver fonts-liberation util-linux procps prometheus golang-go faketime)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: ${packages[*]}"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

# Every wait is bounded and says what it waited for.
bounded() {
  local seconds=$1 what=$2
  shift 2
  if ! $SUDO timeout --kill-after=10 "$seconds" "$@"; then
    echo "install-system-deps: $what did not finish within ${seconds}s (or failed): $*" >&2
    exit 1
  fi
}

# The packages must not start (or restart) their services: the tests run their own
# instances (scripts/services/up.sh), and a service this script started it would then have
# to stop, which is never safe on a machine whose own services may already be running.
# Debian's policy-rc.d (exit 101: "action forbidden") says so to every maintainer script;
# one already in place is left alone.
# HERALD_POLICY_RC_D: another path, for the test of this script only.
POLICY=${HERALD_POLICY_RC_D:-/usr/sbin/policy-rc.d}
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# written by herald scripts/install-system-deps.sh while it installs; removed after\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  trap '$SUDO rm -f "$POLICY"' EXIT
fi

bounded 600 "apt-get update" apt-get update -qq
bounded 1800 "apt-get install ${missing[*]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "installed: ${missing[*]}"
