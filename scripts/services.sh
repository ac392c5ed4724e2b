#!/usr/bin/env bash
# PostgreSQL, Redis and Mosquitto on 127.0.0.1 (default ports).
#   services.sh check   say which answer and, for each that does not, how to start it (exit 1 if any is down)
#   services.sh ensure  start the ones that do not answer, installing them with apt-get when missing (CI)
set -uo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_hint() {
  case "$1" in
    postgresql) echo "pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start   (or: docker compose up -d postgres)" ;;
    redis) echo "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no   (or: docker compose up -d redis)" ;;
    mosquitto) echo "mosquitto -d -c /etc/mosquitto/mosquitto.conf   (or: docker compose up -d mosquitto)" ;;
  esac
}

port_of() { case "$1" in postgresql) echo 5432 ;; redis) echo 6379 ;; mosquitto) echo 1883 ;; esac; }

start_service() {
  case "$1" in
    postgresql)
      command -v pg_ctlcluster >/dev/null || install_packages postgresql
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start ;;
    redis)
      command -v redis-server >/dev/null || install_packages redis-server
      mkdir -p /var/lib/redis /var/log/redis
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log ;;
    mosquitto)
      command -v mosquitto >/dev/null || install_packages mosquitto mosquitto-clients
      mkdir -p /run/mosquitto /var/lib/mosquitto /var/log/mosquitto
      chown mosquitto: /run/mosquitto /var/lib/mosquitto /var/log/mosquitto 2>/dev/null || true
      mosquitto -d -c /etc/mosquitto/mosquitto.conf ;;
  esac
}

install_packages() {
  echo "installing $* with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  if [ "$1" = postgresql ]; then
    # A fresh Debian cluster wants passwords on 127.0.0.1; local development and CI use trust there.
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
}

wait_for() {
  for _ in $(seq 1 60); do answers "$(port_of "$1")" && return 0; sleep 0.5; done
  return 1
}

mode=${1:-check}
down=0
for service in postgresql redis mosquitto; do
  if answers "$(port_of "$service")"; then
    echo "ok    $service on 127.0.0.1:$(port_of "$service")"
  elif [ "$mode" = ensure ]; then
    echo "start $service" && start_service "$service"
    if wait_for "$service"; then echo "ok    $service on 127.0.0.1:$(port_of "$service")"; else echo "FAIL  $service did not start" >&2; down=1; fi
  else
    echo "DOWN  $service: nothing answers on 127.0.0.1:$(port_of "$service"). Start it with:" >&2
    echo "        $(start_hint "$service")" >&2
    down=1
  fi
done
exit $down
