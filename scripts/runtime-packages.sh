#!/usr/bin/env bash
# Prints the Debian packages that own the shared libraries BINARY links directly (its NEEDED
# entries), one a line: what the image's runtime stage installs. apt brings their dependencies.
# Usage: scripts/runtime-packages.sh BINARY
set -euo pipefail
binary="$1"

owner() {  # the package owning a library path, trying the /usr-merged spellings too
  local path="$1" candidate
  for candidate in "$path" "$(realpath "$path")" "${path#/usr}" "/usr${path}"; do
    dpkg-query -S "$candidate" 2>/dev/null | cut -d: -f1 && return 0
  done
  return 1
}

objdump -p "$binary" | awk '$1 == "NEEDED" {print $2}' | while read -r lib; do
  # (awk reads to the end: an early exit would make ldconfig die of SIGPIPE under pipefail)
  path="$(ldconfig -p | awk -v lib="$lib" '$1 == lib && !found {print $NF; found = 1}')"
  [ -n "$path" ] || { echo "runtime-packages: $lib is not in the linker cache" >&2; exit 1; }
  owner "$path" || { echo "runtime-packages: no package owns $lib ($path)" >&2; exit 1; }
done | sort -u
