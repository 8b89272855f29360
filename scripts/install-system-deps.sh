#!/usr/bin/env bash
# Installs, from Debian's packages, everything the test suite starts: PostgreSQL, RabbitMQ,
# nginx and Chromium (for the browser tests; never downloaded by Playwright). Idempotent.
set -euo pipefail
packages=(postgresql rabbitmq-server nginx-light chromium chromium-driver fonts-liberation procps)
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
# Package scripts may try to start the services; the tests start their own instances.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "installed: ${missing[*]}"
