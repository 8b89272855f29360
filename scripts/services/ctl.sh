#!/usr/bin/env bash
# Stops and starts the test services for fault tests:
#   ctl.sh postgres stop|start|restart    ctl.sh rabbitmq stop|start|restart
set -euo pipefail
. "$(dirname "$0")/lib.sh"
take_lock
[ -f "$STATE_FILE" ] || { echo "no services state in $STATE_FILE: run scripts/services/up.sh first" >&2; exit 1; }
# shellcheck disable=SC1090
. "$STATE_FILE"
case "${1:-}:${2:-}" in
  postgres:stop) pg_stop fast ;;
  postgres:kill) pg_stop immediate ;;
  postgres:start) pg_running || pg_start ;;
  postgres:restart) pg_stop fast; pg_start ;;
  rabbitmq:stop) rabbit_stop ;;
  rabbitmq:start) rabbit_running || rabbit_start ;;
  rabbitmq:restart) rabbit_stop; rabbit_start ;;
  *) echo "usage: ctl.sh postgres|rabbitmq stop|start|restart (postgres also: kill)" >&2; exit 2 ;;
esac
