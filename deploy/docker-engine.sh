#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io and starts dockerd when
# none does. Idempotent and quick when the engine is up. Installing needs root.
set -euo pipefail
log=${DOCKERD_LOG:-/tmp/laino-dockerd.log}
if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null; then
    echo "installing the docker engine (apt: docker.io)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null; then
    echo "starting dockerd (log: $log)"
    setsid dockerd >"$log" 2>&1 < /dev/null &
fi
for _ in $(seq 150); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 0.2
done
echo "the docker engine did not answer within 30 s; see $log" >&2
exit 1
