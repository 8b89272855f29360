#!/usr/bin/env bash
# System packages for the scale-out and browser tests (Debian/Ubuntu): PostgreSQL, RabbitMQ,
# nginx, Chromium. A no-op when they are installed; otherwise needs root or sudo.
# The services are started by scripts/services/up.sh, not by the packages' init scripts.
set -euo pipefail
PACKAGES=(postgresql rabbitmq-server nginx-light chromium chromium-driver util-linux)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
# The packages may start system instances on the default ports; the tests run their own.
for service in rabbitmq-server postgresql nginx; do
  $SUDO service "$service" stop >/dev/null 2>&1 || true
done
