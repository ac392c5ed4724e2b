#!/usr/bin/env bash
# PostgreSQL, Redis and Mosquitto on 127.0.0.1 (default ports).
#   services.sh check   say which answer and, for each that does not, how to start it (exit 1 if any is down)
#   services.sh ensure  start the ones that do not answer: as root on Debian/Ubuntu with the packages
#                       (installed with apt-get when missing; what CI does), otherwise with `docker compose`
#                       when Docker is running; otherwise say exactly what to run (exit 1)
set -uo pipefail
cd "$(dirname "$0")/.."

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

compose_name() { case "$1" in postgresql) echo postgres ;; *) echo "$1" ;; esac; }

start_hint() {
  case "$1" in
    postgresql) echo "pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" ;;
    redis) echo "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no" ;;
    mosquitto) echo "mosquitto -d -c $MOSQUITTO_HOST_CONF   (written from deploy/mosquitto/mosquitto.conf by: sudo bash scripts/services.sh ensure)" ;;
  esac
}

is_root_debian() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
# `docker compose` (plugin) or the older `docker-compose`, when a Docker daemon answers.
compose() { if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi; }
docker_running() {
  command -v docker >/dev/null && docker info >/dev/null 2>&1 &&
    { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; }
}

# The repo's broker settings (queue and packet limits) with the host's paths, on 127.0.0.1 only.
MOSQUITTO_HOST_CONF=/etc/mosquitto/edgefleet.conf
write_mosquitto_host_conf() {
  sed -e 's#^persistence_location .*#persistence_location /var/lib/mosquitto/#' \
      -e 's#^listener 1883$#listener 1883 127.0.0.1#' \
      -e 's#^log_dest stdout$#log_dest file /var/log/mosquitto/mosquitto.log#' \
      deploy/mosquitto/mosquitto.conf > "$MOSQUITTO_HOST_CONF"
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
      write_mosquitto_host_conf
      mosquitto -d -c "$MOSQUITTO_HOST_CONF" ;;
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
down=()
for service in postgresql redis mosquitto; do
  if answers "$(port_of "$service")"; then
    echo "ok    $service on 127.0.0.1:$(port_of "$service")"
    continue
  fi
  if [ "$mode" = ensure ] && is_root_debian; then
    echo "start $service" && start_service "$service"
  elif [ "$mode" = ensure ] && docker_running; then
    echo "start $service with docker compose" && compose up -d "$(compose_name "$service")"
  else
    echo "DOWN  $service: nothing answers on 127.0.0.1:$(port_of "$service")" >&2
    down+=("$service")
    continue
  fi
  if wait_for "$service"; then echo "ok    $service on 127.0.0.1:$(port_of "$service")"; else echo "FAIL  $service did not start" >&2; down+=("$service"); fi
done
[ ${#down[@]} -eq 0 ] && exit 0

names=$(for s in "${down[@]}"; do compose_name "$s"; done | xargs)
{
  echo
  echo "Start ${down[*]} with one of:"
  echo "  sudo bash scripts/services.sh ensure        # Debian/Ubuntu: installs the packages when missing and starts them"
  echo "  docker compose up -d $names    # Docker"
  echo "or, with the packages already installed, as root:"
  for s in "${down[@]}"; do echo "  $(start_hint "$s")"; done
} >&2
exit 1
