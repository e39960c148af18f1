#!/usr/bin/env bash
# Make sure a headless-capable Chromium is installed for the browser tests.
# Idempotent: does nothing when /usr/bin/chromium already works.
# Playwright drives this system Chromium; it never downloads a browser of its own.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ] && version="$("$CHROMIUM" --version 2>/dev/null)"; then
    echo "chromium: ${version}"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not installed and apt-get is unavailable; install Chromium so that $CHROMIUM exists." >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "chromium: not installed, and installing it needs root." >&2
    echo "chromium: run as root: apt-get update && apt-get install -y --no-install-recommends chromium" >&2
    exit 1
fi

echo "chromium: not found at $CHROMIUM; installing it with apt-get (this takes a few minutes)..."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update \
        && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "chromium: installation failed (see the apt-get output above)." >&2
    exit 1
fi

if ! version="$("$CHROMIUM" --version 2>/dev/null)"; then
    echo "chromium: installed, but '$CHROMIUM --version' does not run." >&2
    exit 1
fi
echo "chromium: installed ${version}"
