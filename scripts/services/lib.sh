# Shared by up.sh, down.sh and ctl.sh: where the test services keep their state.
# shellcheck shell=bash
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${HERALD_SERVICES_DIR:-$REPO/.tmp/services}
STATE_FILE=$STATE_DIR/state.env
ENV_FILE=${HERALD_SERVICES_ENV:-$REPO/.tmp/services.env}

# One of up.sh / down.sh / ctl.sh at a time: two test runs starting at once must not start
# two PostgreSQL clusters or two RabbitMQ nodes on the same state directory.
take_lock() {
  mkdir -p "$REPO/.tmp"
  exec 9>"$REPO/.tmp/services.flock"
  flock -w 300 9 || { echo "timed out waiting for $REPO/.tmp/services.flock" >&2; exit 1; }
}

pg_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pg_ctl" ]; then pg_config --bindir; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

rabbit_sbin() {
  if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then echo /usr/lib/rabbitmq/bin; return; fi
  dirname "$(command -v rabbitmq-server)"
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# PostgreSQL refuses to run as root: as root, run its tools as the postgres user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The RabbitMQ node's environment: its own name, ports, data, logs and Erlang cookie
# (HOME), so it never collides with a system RabbitMQ or another checkout's.
rabbit_env() {
  export HOME="$RABBIT_DIR/home"
  export RABBITMQ_NODENAME="$RABBIT_NODE"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$AMQP_PORT"
  export RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT"
  export RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia"
  export RABBITMQ_LOG_BASE="$RABBIT_DIR/log"
  export RABBITMQ_PID_FILE="$RABBIT_DIR/rabbit.pid"
  export RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_DIR/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins"
  export RABBITMQ_PLUGINS_EXPAND_DIR="$RABBIT_DIR/plugins-expand"
}

pg_running() {
  [ -n "${PG_PORT:-}" ] && "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1
}

rabbit_running() {
  [ -n "${RABBIT_NODE:-}" ] && (rabbit_env; timeout 30 "$(rabbit_sbin)/rabbitmq-diagnostics" -q -n "$RABBIT_NODE" ping >/dev/null 2>&1)
}

pg_start() {
  as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA -c fsync=on -c max_connections=200" start >/dev/null 9>&-
}

pg_stop() {
  as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -m "${1:-fast}" -w -t 60 stop >/dev/null 2>&1 || true
}

rabbit_start() {
  # 9>&-: the daemons must not inherit (and so hold) the services lock.
  (rabbit_env; "$(rabbit_sbin)/rabbitmq-server" -detached >/dev/null 2>&1 9>&-)
  # `rabbitmq-diagnostics ping` answers once the node is up; then wait for the app itself.
  local i
  for i in $(seq 1 120); do
    if (rabbit_env; timeout 30 "$(rabbit_sbin)/rabbitmq-diagnostics" -q -n "$RABBIT_NODE" check_port_connectivity >/dev/null 2>&1); then return 0; fi
    sleep 0.5
  done
  echo "RabbitMQ did not start; log: $RABBIT_DIR/log" >&2
  return 1
}

rabbit_stop() {
  # Bounded: a node that does not answer must not hang the run; say so and go on.
  (rabbit_env; timeout 90 "$(rabbit_sbin)/rabbitmqctl" -q -n "$RABBIT_NODE" shutdown >/dev/null 2>&1) \
    || echo "RabbitMQ node $RABBIT_NODE did not confirm its shutdown within 90 s (log: $RABBIT_DIR/log)" >&2
}
