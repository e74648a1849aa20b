#!/usr/bin/env bash
# Start a Docker engine when none answers, and stop only the one this script started.
#   scripts/dockerd.sh start   -> waits until the engine answers
#   scripts/dockerd.sh stop
# The engine listens on the default socket, so every client (docker CLI, SDK, Ansible) finds it.
set -euo pipefail
state=${AIRGAP_STATE_DIR:-/var/lib/airgap-test}
pidfile=$state/dockerd.pid
log=$state/dockerd.log
mkdir -p "$state"

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-start}" in
  start)
    if answers; then echo "dockerd: an engine already answers"; exit 0; fi
    command -v dockerd >/dev/null || PATH=$PATH:/usr/sbin
    # A stale socket from an engine that died keeps dockerd from starting.
    if [ -S /var/run/docker.sock ] && ! answers; then rm -f /var/run/docker.sock; fi
    nohup dockerd --host unix:///var/run/docker.sock --pidfile /var/run/docker.pid >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 60); do
      if answers; then echo "dockerd: started (pid $(cat "$pidfile"))"; exit 0; fi
      sleep 1
    done
    echo "dockerd: did not answer within 60s; last lines of $log:" >&2
    tail -20 "$log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
      echo "dockerd: stopped"
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
