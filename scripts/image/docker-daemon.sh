#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: returns at once when `docker info` works,
# otherwise starts Debian's docker.io engine (systemd when it runs, else dockerd in the
# background with its log in /var/log/dockerd.log) and waits for its socket. The engine is
# left running. Needs root (or a reachable engine) and `apt-get install docker.io`.
set -euo pipefail

timeout_s="${MESHGUARD_DOCKERD_TIMEOUT:-60}"

docker info >/dev/null 2>&1 && exit 0

if ! command -v docker >/dev/null || ! command -v dockerd >/dev/null; then
  echo "docker-daemon: docker/dockerd not found (Debian: apt-get install docker.io)" >&2
  exit 1
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "docker-daemon: the Docker engine does not answer and only root can start it" >&2
  exit 1
fi

if [[ -d /run/systemd/system ]] && systemctl start docker 2>/dev/null; then
  how="systemctl start docker"
else
  # dockerd refuses to start twice (its pidfile /var/run/docker.pid names a live process), so a
  # concurrent caller that lost the race simply waits for the other one's engine below.
  setsid dockerd </dev/null >>/var/log/dockerd.log 2>&1 &
  how="dockerd (pid $!, log /var/log/dockerd.log)"
fi

for ((i = 0; i < timeout_s * 4; i++)); do
  if docker info >/dev/null 2>&1; then
    echo "docker-daemon: started the engine: $how" >&2
    exit 0
  fi
  sleep 0.25
done
echo "docker-daemon: the engine did not answer within ${timeout_s}s ($how); last log lines:" >&2
tail -n 20 /var/log/dockerd.log >&2 2>/dev/null || true
exit 1
