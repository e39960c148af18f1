#!/usr/bin/env bash
# Install Debian packages for one of the project's tools, the one way every script does it:
#   scripts/apt-install.sh WHAT WHY PACKAGE...
# WHAT names the tool in every line printed; WHY says what the packages are for when
# they cannot be installed. Runs apt-get as root, or through sudo; without either it
# prints the command to run and exits 1. apt-get's own output is shown only on failure.
set -euo pipefail

what="$1"
why="$2"
shift 2
packages=("$@")

if ! command -v apt-get >/dev/null 2>&1; then
    echo "${what}: missing ${packages[*]} and apt-get is unavailable; install them ${why}." >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "${what}: installing ${packages[*]} needs root." >&2
    echo "${what}: run as root: apt-get update && apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 1
fi

echo "${what}: installing ${packages[*]} with apt-get (this can take a few minutes)..."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update \
        && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "${what}: installation failed (see the apt-get output above)." >&2
    exit 1
fi
