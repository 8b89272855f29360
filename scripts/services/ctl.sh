#!/usr/bin/env bash
# Stops and starts the test services for fault tests:
#   ctl.sh postgres stop|start|restart|kill|pause|resume    ctl.sh rabbitmq stop|start|restart
# pause/resume SIGSTOP/SIGCONT every PostgreSQL process: a server that holds its connections
# open and never answers, as a black-holed network does.
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
  postgres:pause) pid=$(head -n 1 "$PG_DATA/postmaster.pid"); kill -STOP "$pid" $(pgrep -P "$pid") ;;
  postgres:resume) pid=$(head -n 1 "$PG_DATA/postmaster.pid"); kill -CONT $(pgrep -P "$pid") "$pid" ;;
  rabbitmq:stop) rabbit_stop ;;
  rabbitmq:start) rabbit_running || rabbit_start ;;
  rabbitmq:restart) rabbit_stop; rabbit_start ;;
  *) echo "usage: ctl.sh postgres|rabbitmq stop|start|restart (postgres also: kill, pause, resume)" >&2; exit 2 ;;
esac
