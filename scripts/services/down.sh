#!/usr/bin/env bash
# Stops what scripts/services/up.sh started and removes its state.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
take_lock
if [ -f "$STATE_FILE" ]; then
  # shellcheck disable=SC1090
  . "$STATE_FILE"
  [ -n "${RABBIT_NODE:-}" ] && rabbit_stop
  [ -n "${PG_DATA:-}" ] && [ -d "$PG_DATA" ] && pg_stop immediate
  case "${PG_DATA:-}" in /tmp/herald-pg.*) rm -rf "$PG_DATA" ;; esac
fi
rm -rf "$STATE_DIR" "$ENV_FILE"
echo "services down"
