#!/usr/bin/env bash
# Create .env from .env.example with fresh random secrets, unless it exists already.
#   scripts/make-env.sh [ENV_FILE]       (default: .env; `make up` runs this)
# Every "CHANGE_ME" in .env.example becomes 32 random URL-safe characters.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-.env}
if [[ -e $target ]]; then
    echo "$target exists; leaving it as it is" >&2
    exit 0
fi
umask 077
tmp=$(mktemp "$target.XXXXXX")
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [[ -n $line ]]; do
    while [[ $line == *CHANGE_ME* ]]; do
        secret=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32)
        line=${line/CHANGE_ME/$secret}
    done
    printf '%s\n' "$line"
done <.env.example >"$tmp"
mv "$tmp" "$target"
trap - EXIT
echo "created $target with random secrets (mode 600)" >&2
