#!/usr/bin/env bash
# Installs, from Debian's packages, everything the test suite starts: PostgreSQL, RabbitMQ,
# nginx, Chromium (browser tests; never downloaded by Playwright) and Prometheus (promtool
# tests the alert rules, a real server checks the dashboard's queries). Idempotent and quick
# when everything is present, so `npm test` can call it on every run. Root or sudo.
# The services are started by scripts/services/up.sh, not by the packages' init scripts.
set -euo pipefail
packages=(postgresql rabbitmq-server nginx-light chromium chromium-driver fonts-liberation util-linux procps prometheus)
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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Packages may start system instances on the default ports; the tests run their own, so
# stop those to leave the machine's resources to the tests (harmless when not running).
for service in rabbitmq-server postgresql nginx prometheus prometheus-node-exporter; do
  $SUDO service "$service" stop >/dev/null 2>&1 || true
done
echo "installed: ${missing[*]}"
