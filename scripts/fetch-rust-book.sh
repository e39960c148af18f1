#!/bin/sh
# The Rust Programming Language, as published in Debian's rust-doc package (mdBook HTML,
# one page per chapter), for the `rustbook` corpus of eval/suite.json: a documentation
# stand-in written by other people. Idempotent: does nothing when the book is there.
# Needs apt-get (Debian or Ubuntu); elsewhere it says so and stops.
set -eu
target="${1:-$(dirname "$0")/../.rust-book}"
if [ -n "$(ls "$target"/ch*.html 2>/dev/null)" ]; then
    echo "the Rust book is already in $target"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "fetch-rust-book: needs apt-get and dpkg-deb (Debian's rust-doc package); the suite skips the rustbook corpus without it" >&2
    exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 777 "$work"  # apt-get downloads as its own user
(cd "$work" && apt-get download rust-doc >/dev/null)
dpkg-deb -x "$work"/rust-doc_*.deb "$work/x"
book="$work/x/usr/share/doc/rust-doc/html/book"
mkdir -p "$target"
# The chapters and appendices; not the redirect pages of the first and second editions.
cp "$book"/ch[0-9]*.html "$book"/appendix-*.html "$target"/
echo "the Rust book: $(ls "$target" | wc -l) pages in $target"
