#!/usr/bin/env bash
# Writes compose/.env from compose/.env.example with a fresh random value for every secret
# (each empty variable of the "secrets" section) and every other default unchanged.
# Usage: compose/init-env.sh [TARGET]   (default compose/.env; an existing file is kept)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
example="$here/.env.example"
target="${1:-$here/.env}"

if [[ -e "$target" ]]; then
  echo "$target already exists; remove it to generate new secrets" >&2
  exit 1
fi

# 32 random bytes as hex: safe inside the database and Redis URLs.
random_secret() {
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

umask 077
in_secrets=0
while IFS= read -r line; do
  if [[ $line == "# --- secrets"* ]]; then
    in_secrets=1
  elif [[ $line == "# ---"* ]]; then
    in_secrets=0
  elif ((in_secrets)) && [[ $line =~ ^([A-Z0-9_]+)=$ ]]; then
    line="${BASH_REMATCH[1]}=$(random_secret)"
  fi
  printf '%s\n' "$line"
done <"$example" >"$target"
echo "wrote $target"
