#!/usr/bin/env bash
# Make sure Tesseract and the OCR languages named by QA_OCR_LANGUAGES (default: eng) are
# installed, for scanned PDF pages and images. Idempotent: does nothing when
# `tesseract --list-langs` already lists every language. The language data comes from
# Debian's packages (tesseract-ocr-LANG); nothing is downloaded at run time.
set -euo pipefail

languages="${QA_OCR_LANGUAGES:-eng}"
packages=()
missing=()
if command -v tesseract >/dev/null 2>&1; then
    installed="$(tesseract --list-langs 2>/dev/null | tail -n +2)"
else
    installed=""
    packages+=(tesseract-ocr)
fi
for lang in ${languages//[+,]/ }; do
    if ! grep -qx "$lang" <<<"$installed"; then
        missing+=("$lang")
        pkg="tesseract-ocr-$(tr '[:upper:]_' '[:lower:]-' <<<"$lang")"
        packages+=("$pkg")
    fi
done

if [ "${#packages[@]}" -eq 0 ]; then
    echo "tesseract: $(tesseract --version 2>/dev/null | head -n 1), languages: ${languages}"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "tesseract: missing ${packages[*]} and apt-get is unavailable; install them to read scanned PDFs and images." >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "tesseract: installing ${packages[*]} needs root." >&2
    echo "tesseract: run as root: apt-get update && apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 1
fi

echo "tesseract: installing ${packages[*]} with apt-get..."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update \
        && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "tesseract: installation failed (see the apt-get output above)." >&2
    exit 1
fi
echo "tesseract: installed $(tesseract --version 2>/dev/null | head -n 1)"
