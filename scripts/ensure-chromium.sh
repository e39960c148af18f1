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

"$(dirname "$0")/apt-install.sh" chromium "so that $CHROMIUM exists (the browser tests need it)" chromium

if ! version="$("$CHROMIUM" --version 2>/dev/null)"; then
    echo "chromium: installed, but '$CHROMIUM --version' does not run." >&2
    exit 1
fi
echo "chromium: installed ${version}"
