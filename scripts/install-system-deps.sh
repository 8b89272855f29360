#!/usr/bin/env bash
# System packages for the scale-out and browser tests (Debian/Ubuntu). Run as root or with sudo.
# The services are started by scripts/services/up.sh, not by the packages' own init scripts.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
  postgresql rabbitmq-server nginx-light chromium chromium-driver util-linux
# Packages may start system instances on the default ports; the tests use their own, so
# stop those to leave the machine's resources to the tests (harmless when not running).
for service in rabbitmq-server postgresql nginx; do
  $SUDO service "$service" stop >/dev/null 2>&1 || true
done
