#!/usr/bin/env bash
# Sourced by ./tickflow and scripts/test.sh: makes sure a supported Node.js and the npm packages
# are present, installing them from the npm registry when they are not. Idempotent and quiet when
# nothing needs doing.
set -euo pipefail
TICKFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TICKFLOW_ROOT

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  # engines: >=22.22
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=22)?0:1)'
}

if ! node_ok; then
  local_node="$TICKFLOW_ROOT/.tools/node/node_modules/.bin"
  if [ ! -x "$local_node/node" ]; then
    echo "tickflow: Node.js >= 22.22 not found; installing Node 24 from the npm registry into .tools/node" >&2
    mkdir -p "$TICKFLOW_ROOT/.tools/node"
    (cd "$TICKFLOW_ROOT/.tools/node" && [ -f package.json ] || echo '{"private":true}' > package.json)
    npm install --prefix "$TICKFLOW_ROOT/.tools/node" --no-save --loglevel=error node@24 >&2
  fi
  export PATH="$local_node:$PATH"
  node_ok || { echo "tickflow: could not provide Node.js >= 22.22" >&2; exit 1; }
fi

# npm ci when node_modules is missing or older than the lock file.
stamp="$TICKFLOW_ROOT/node_modules/.tickflow-lock"
if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$TICKFLOW_ROOT/package-lock.json"; then
  echo "tickflow: installing npm packages (npm ci)" >&2
  (cd "$TICKFLOW_ROOT" && npm ci --loglevel=error --no-fund --no-audit >&2)
  cp "$TICKFLOW_ROOT/package-lock.json" "$stamp"
fi

# The dashboard bundle (src/dashboard/dist), rebuilt when its sources are newer.
dist="$TICKFLOW_ROOT/src/dashboard/dist/index.html"
if [ ! -f "$dist" ] || [ -n "$(find "$TICKFLOW_ROOT/src/dashboard" -path '*/dist' -prune -o -type f -newer "$dist" -print -quit)" ]; then
  (cd "$TICKFLOW_ROOT" && npm run --silent build:dashboard >&2)
fi
