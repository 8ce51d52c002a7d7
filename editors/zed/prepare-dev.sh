#!/usr/bin/env bash
# Prepares the Zed extension for "zed: install dev extension": copies it to a
# directory of its own (default: a new temporary one, or the first argument) and
# points its grammar at this checkout's current commit. The checkout is not changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(git -C "$here" rev-parse --show-toplevel)"
commit="$(git -C "$root" rev-parse HEAD)"
out="${1:-$(mktemp -d)/netplan-zed}"

mkdir -p "$out"
cp -R "$here/languages" "$out/"
sed -e "s|file:///path/to/netplan|file://$root|" \
    -e "s|HEAD-COMMIT|$commit|" \
    "$here/extension.toml" > "$out/extension.toml"

echo "Zed extension ready in $out"
echo "Grammar: $root at $commit (editors/tree-sitter-netplan); commit your changes first."
echo "In Zed: command palette -> \"zed: install dev extension\" -> choose $out"
