# laino's recipes. `just setup` is a dependency of everything that needs the environment.

set shell := ["bash", "-euo", "pipefail", "-c"]

venv := ".venv"
py := venv / "bin/python"
export PATH := justfile_directory() / venv / "bin:" + env_var("PATH")

# List the recipes.
default:
    @just --list

# Create .venv and install laino with its development tools (idempotent, quick when done).
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x {{py}} ]; then python3 -m venv {{venv}}; fi
    stamp={{venv}}/.laino-installed
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ -n "$(find orchestrator providers cli proto migrations -newer "$stamp" -name '*.py' -o -newer "$stamp" -name '*.sql' -o -newer "$stamp" -path '*/web/*' | head -1)" ]; then
        # pip's warnings about local index folders that do not exist are noise here
        {{py}} -m pip install -q --disable-pip-version-check -e '.[dev]' --config-settings editable_mode=strict \
            2> >(grep -v '^WARNING: Location' >&2)
        # laino's own modules compiled, as pip does for an installed wheel: where Python is told
        # not to write bytecode (PYTHONDONTWRITEBYTECODE), every CLI call and server start would
        # compile them again (22 ms of a CLI call, 120 ms of a server's start).
        {{py}} -m compileall -q "$({{py}} -c 'import laino; print(*laino.__path__)')"
        touch "$stamp"
    fi

# Regenerate the gRPC code from proto/ (the generated files are committed).
proto: setup
    {{py}} -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto --grpc_python_out=proto proto/laino/v1/laino.proto

# Fail if the committed generated code differs from what `just proto` makes.
proto-check: setup
    #!/usr/bin/env bash
    set -euo pipefail
    tmp=$(mktemp -d)
    {{py}} -m grpc_tools.protoc -I proto --python_out=$tmp --pyi_out=$tmp --grpc_python_out=$tmp proto/laino/v1/laino.proto
    for f in laino_pb2.py laino_pb2.pyi laino_pb2_grpc.py; do
        diff -q $tmp/laino/v1/$f proto/laino/v1/$f || { echo "generated code drifted: run 'just proto'"; exit 1; }
    done

# ruff, mypy and the import contracts (the domain imports no infrastructure, providers never import the orchestrator).
lint: setup proto-check
    {{venv}}/bin/ruff check .
    {{venv}}/bin/ruff format --check .
    {{venv}}/bin/mypy orchestrator providers cli migrations
    {{venv}}/bin/lint-imports

# Lint, then every test: unit, integration and end-to-end (they start a real Docker engine,
# and drive the web dashboard in Debian's headless Chromium).
test *args: lint worker-image browser
    {{venv}}/bin/pytest -q {{args}}

# Start a server on the embedded defaults, run a real job through the CLI, stop the server.
demo: setup
    #!/usr/bin/env bash
    set -euo pipefail
    home=$(mktemp -d)
    # The CLI finds the server's admin token in its home, as it would in the default one.
    export LAINO_HOME="$home"
    port=$({{py}} -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    export LAINO_SERVER=127.0.0.1:$port
    laino server --listen $LAINO_SERVER --agent-listen 127.0.0.1:0 2>"$home/server.log" &
    server=$!
    trap 'kill $server; wait $server 2>/dev/null || true; rm -rf "$home"' EXIT
    for _ in $(seq 50); do laino job list >/dev/null 2>&1 && break; sleep 0.1; done
    echo "$ laino job run -- sh -c 'for i in 1 2 3; do echo step \$i; sleep 0.3; done; echo done >&2'"
    laino job run -- sh -c 'for i in 1 2 3; do echo step $i; sleep 0.3; done; echo done >&2'
    echo "$ laino job list"
    laino job list
    id=$(laino job list -o json | {{py}} -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
    echo "$ laino job events $id"
    laino job events "$id" | cut -c1-110

# Measure latency and log throughput on the embedded defaults (prints numbers).
bench: worker-image browser
    {{py}} -m tests.bench

# Faults injected into real servers, agents and containers, then every invariant checked; prints
# the table of docs/reliability.md. ROUNDS is how many times the server is SIGKILLed at random.
chaos rounds="300": worker-image
    {{py}} -m tests.chaos {{rounds}}

# Install and start a Docker engine if none answers (Debian's docker.io; needs root).
docker-engine:
    deploy/docker-engine.sh

# Debian's chromium and chromedriver, for the dashboard's tests.
browser:
    deploy/chromium.sh

# Build laino/worker:VERSION with no registry: a Debian base, wheels downloaded on the host.
worker-image: setup docker-engine
    PYTHON={{py}} deploy/worker/build.sh

# The image of an orchestrator in a cluster (deploy/kubernetes/orchestrator.yaml).
server-image: setup docker-engine
    PYTHON={{py}} TAG=laino/server:$({{py}} -c 'from importlib.metadata import version; print(version("laino"))') EXTRAS=otlp,kubernetes deploy/worker/build.sh

# Docker jobs through the real CLI; each prints its logs live and fails if it ends otherwise.
job-docker-hello: worker-image
    {{py}} -m tests.scenarios docker hello

job-docker-cpu: worker-image
    {{py}} -m tests.scenarios docker cpu

# Within its --memory limit, then past it: the second must end FAILED, out of memory.
job-docker-memory: worker-image
    {{py}} -m tests.scenarios docker memory memory-oom

job-docker-data: worker-image
    {{py}} -m tests.scenarios docker data

job-docker-build: worker-image
    {{py}} -m tests.scenarios docker build

job-docker-ml: worker-image
    {{py}} -m tests.scenarios docker ml

job-docker-all: worker-image
    {{py}} -m tests.scenarios docker

# Every docker job, then the criteria: terminal in 15 s, live logs, the expected state, and
# no container of this run's server left behind.
e2e-docker: worker-image
    {{py}} -m tests.scenarios docker --e2e

# Kubernetes jobs through the real CLI, on the cluster KUBECONFIG (or ~/.kube/config) names,
# in $LAINO_K8S_NAMESPACE [default]; the cluster must have laino/worker:VERSION (kind load
# docker-image, or LAINO_WORKER_IMAGE from a registry). Without a cluster they stop at once.
job-k8s-hello: setup
    {{py}} -m tests.scenarios kubernetes hello

job-k8s-cpu: setup
    {{py}} -m tests.scenarios kubernetes cpu

# Within its limit (SUCCEEDED), then past it (FAILED, out of memory).
job-k8s-memory: setup
    {{py}} -m tests.scenarios kubernetes memory memory-oom

job-k8s-data: setup
    {{py}} -m tests.scenarios kubernetes data

job-k8s-build: setup
    {{py}} -m tests.scenarios kubernetes build

job-k8s-ml: setup
    {{py}} -m tests.scenarios kubernetes ml

# Asks for nvidia.com/gpu and prints the GPUs it gets, or says no GPU is present.
job-k8s-gpu: setup
    {{py}} -m tests.scenarios kubernetes gpu

job-k8s-all: setup
    {{py}} -m tests.scenarios kubernetes

# Every Kubernetes job, then the criteria of e2e-docker: terminal in 15 s, live logs, the
# expected state, and no pod or Secret of the run left behind.
e2e-k8s: setup
    {{py}} -m tests.scenarios kubernetes --e2e

