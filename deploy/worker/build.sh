#!/usr/bin/env bash
# Builds laino/worker:<version> without a registry: a Debian base from debootstrap (once),
# then the Dockerfile beside this script on top of it, with wheels downloaded on the host.
# BASE=python:3.11-slim uses a registry's base instead. Skips the build when the image
# already holds this source (label laino.source). EXTRAS picks laino's extras [otlp]:
# `TAG=laino/server:<version> EXTRAS=otlp,kubernetes` makes the image of an in-cluster server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
version=$("$python" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$root/pyproject.toml")
tag=${TAG:-laino/worker:$version}
base=${BASE:-laino/base:bookworm}
extras=${EXTRAS:-otlp}
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)}

source=$(cd "$root" && find pyproject.toml providers proto deploy/worker -type f \( -name '*.py' -o -name '*.toml' -o -name Dockerfile -o -name '*.proto' -o -name '*.sh' \) -print0 \
    | sort -z | xargs -0 sha256sum | { cat; echo "$extras"; } | sha256sum | cut -c1-16)
if [ "$(docker image inspect "$tag" --format '{{ index .Config.Labels "laino.source" }}' 2>/dev/null)" = "$source" ]; then
    echo "$tag is up to date"
    exit 0
fi

if [ "$base" = laino/base:bookworm ] && ! docker image inspect "$base" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    echo "building $base from Debian packages ($mirror)"
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$mirror" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - "$base" >/dev/null
fi

context=$(mktemp -d)
# A stale build/lib would put removed modules into the wheel. (build/ also holds the
# strict editable install of .venv: leave the rest alone.)
rm -rf "$root/build/lib" "$root"/build/bdist.*
trap 'rm -rf "$context" ${rootfs:+"$rootfs"}' EXIT
cp "$here/Dockerfile" "$context/"
"$python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$context/wheels" "$root" 2> >(grep -v '^WARNING: Location' >&2)
"$python" -m pip download -q --disable-pip-version-check --only-binary=:all: -d "$context/wheels" "$(ls "$context"/wheels/laino-*.whl)[$extras]" \
    2> >(grep -v '^WARNING: Location' >&2)
docker build -q --build-arg BASE="$base" --build-arg EXTRAS="$extras" --label laino.source="$source" -t "$tag" "$context" >/dev/null \
    2> >(grep -v -e "legacy builder" -e buildx -e "^ *$" >&2)
echo "built $tag on $base"
