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

"$(dirname "$0")/apt-install.sh" tesseract "to read scanned PDFs and images" "${packages[@]}"
echo "tesseract: installed $(tesseract --version 2>/dev/null | head -n 1)"
