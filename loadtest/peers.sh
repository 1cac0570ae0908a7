#!/usr/bin/env bash
# The peer brokers of the load test, on 127.0.0.1 only, with the settings of shared/PEERS.md:
#   loadtest/peers.sh install   apt-get install rabbitmq-server nats-server redis-server (Debian, as root)
#   loadtest/peers.sh start     start the three (each bounded wait for readiness), pid files in $FERRY_PEERS_DIR
#   loadtest/peers.sh stop      stop the three
#   loadtest/peers.sh status
# State lives in FERRY_PEERS_DIR (default /tmp/ferry-peers): data directories, logs, pid files.
set -u
DIR="${FERRY_PEERS_DIR:-/tmp/ferry-peers}"
RABBIT_PID=/var/lib/rabbitmq/ferry-bench.pid

say() { printf 'peers: %s\n' "$*" >&2; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs="$1" what="$2"; shift 2
  local i
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  say "$what: not ready after ${secs}s"
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install() {
  if [ "$(id -u)" != 0 ]; then say "install needs root (apt-get)"; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server nats-server redis-server
  # Debian starts its own instances where an init system runs: stop them, the harness starts its own.
  for s in rabbitmq-server redis-server nats-server; do service "$s" stop >/dev/null 2>&1 || true; done
}

start_redis() {
  if ! command -v redis-server >/dev/null; then say "redis-server not installed: skipped"; return 0; fi
  if port_open 6379; then say "redis: something already listens on 6379"; return 0; fi
  mkdir -p "$DIR/redis"
  redis-server --bind 127.0.0.1 --port 6379 --appendonly yes --appendfsync everysec --dir "$DIR/redis" \
    --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
  wait_for 20 redis port_open 6379 && say "redis up ($(redis-server --version | awk '{print $3}'))"
}

start_nats() {
  if ! command -v nats-server >/dev/null; then say "nats-server not installed: skipped"; return 0; fi
  if port_open 4222; then say "nats: something already listens on 4222"; return 0; fi
  mkdir -p "$DIR/nats"
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$DIR/nats" -P "$DIR/nats.pid" -l "$DIR/nats.log" >/dev/null 2>&1 &
  wait_for 20 nats port_open 4222 && say "nats up ($(nats-server --version))"
}

start_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null; then say "rabbitmq-server not installed: skipped"; return 0; fi
  if port_open 5672; then say "rabbitmq: something already listens on 5672"; return 0; fi
  # Debian's wrapper runs the server as user rabbitmq, which owns its data dir and the pid file's dir.
  chown -R rabbitmq:rabbitmq /var/lib/rabbitmq 2>/dev/null || true
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_PID_FILE="$RABBIT_PID" \
    rabbitmq-server -detached >"$DIR/rabbitmq.start.log" 2>&1
  if wait_for 60 rabbitmq port_open 5672; then
    cp "$RABBIT_PID" "$DIR/rabbitmq.pid" 2>/dev/null || true
    say "rabbitmq up"
  fi
}

stop_pidfile() { # stop_pidfile NAME FILE
  local pid
  pid="$(cat "$2" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    wait_for 30 "$1 stop" bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
    say "$1 stopped"
  fi
  rm -f "$2"
}

stop() {
  stop_pidfile redis "$DIR/redis.pid"
  stop_pidfile nats "$DIR/nats.pid"
  if command -v rabbitmqctl >/dev/null && [ -f "$DIR/rabbitmq.pid" ]; then
    ERL_EPMD_ADDRESS=127.0.0.1 timeout 60 rabbitmqctl stop >/dev/null 2>&1 || stop_pidfile rabbitmq "$DIR/rabbitmq.pid"
    rm -f "$DIR/rabbitmq.pid"
    say "rabbitmq stopped"
  fi
}

status() {
  for p in "redis 6379" "nats 4222" "rabbitmq 5672"; do
    set -- $p
    if port_open "$2"; then say "$1: listening on 127.0.0.1:$2"; else say "$1: not running"; fi
  done
}

mkdir -p "$DIR"
case "${1:-}" in
  install) install ;;
  start) start_redis; start_nats; start_rabbitmq ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
