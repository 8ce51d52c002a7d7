#!/usr/bin/env bash
# Regenerates editors/screenshot.png: a topology file highlighted by the
# tree-sitter grammar and its highlight query, rendered by headless Chromium.
#
#   editors/screenshot.sh [FILE.net] [OUT.png]
#
# FILE defaults to examples/walkthrough.net, or editors/samples/walkthrough.net
# when the project has no walkthrough example. Needs the tree-sitter CLI
# (cargo install tree-sitter-cli --locked) and Chromium (Debian: apt-get install
# chromium). Uses a private tree-sitter config; your own is neither read nor changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

src="${1:-}"
if [[ -z "$src" ]]; then
  src="$root/examples/walkthrough.net"
  [[ -f "$src" ]] || src="$here/samples/walkthrough.net"
fi
src="$(cd "$(dirname "$src")" && pwd)/$(basename "$src")"
out="${2:-$here/screenshot.png}"
width=900
height=1100

chrome="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[[ -n "$chrome" ]] || { echo "Chromium is needed (apt-get install chromium)" >&2; exit 1; }
command -v tree-sitter >/dev/null || { echo "the tree-sitter CLI is needed (cargo install tree-sitter-cli --locked)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A One Dark-like theme; its keys are the capture names of queries/highlights.scm.
export TREE_SITTER_DIR="$tmp/tree-sitter"
export TREE_SITTER_LIBDIR="$tmp/tree-sitter/lib"
mkdir -p "$TREE_SITTER_LIBDIR"
cat >"$TREE_SITTER_DIR/config.json" <<EOF
{
  "parser-directories": ["$here"],
  "theme": {
    "keyword": { "color": "#c678dd", "bold": true },
    "keyword.operator": { "color": "#c678dd", "italic": true },
    "type": "#e5c07b",
    "type.definition": { "color": "#e5c07b", "bold": true },
    "function": { "color": "#61afef", "bold": true },
    "function.call": "#61afef",
    "label": { "color": "#e06c75", "italic": true },
    "variable": "#e06c75",
    "variable.member": "#e06c75",
    "property": "#e06c75",
    "constant.builtin": "#56b6c2",
    "boolean": { "color": "#56b6c2", "bold": true },
    "number": "#d19a66",
    "string": "#98c379",
    "string.special.path": { "color": "#98c379", "underline": true },
    "string.escape": "#56b6c2",
    "comment": { "color": "#7f848e", "italic": true },
    "operator": "#56b6c2",
    "punctuation.bracket": "#abb2bf",
    "punctuation.delimiter": "#8b929e"
  }
}
EOF

(cd "$here/tree-sitter-netplan" &&
  tree-sitter highlight --html --layout fragment --style inline "$src") >"$tmp/code.html"

name="$(basename "$src")"
cat >"$tmp/page.html" <<EOF
<!doctype html>
<html><head><meta charset="utf-8"><title>$name</title>
<style>
  html, body { margin: 0; background: #1e2127; }
  .window { margin: 18px 22px; border-radius: 10px; overflow: hidden;
            background: #282c34; box-shadow: 0 8px 28px rgba(0,0,0,.5); }
  .bar { background: #21252b; color: #9da5b4; padding: 9px 14px;
         font: 13px "DejaVu Sans", sans-serif; }
  .bar .dot { display: inline-block; width: 11px; height: 11px; border-radius: 50%;
              margin-right: 6px; vertical-align: -1px; }
  .bar .name { margin-left: 10px; }
  pre { margin: 0; padding: 14px 18px 18px; color: #abb2bf;
        font: 13px/1.4 "DejaVu Sans Mono", "Liberation Mono", monospace; }
  .highlight { counter-reset: line; }
</style></head>
<body><div class="window">
<div class="bar"><span class="dot" style="background:#e06c75"></span><span class="dot" style="background:#e5c07b"></span><span class="dot" style="background:#98c379"></span><span class="name">$name &mdash; netplan (tree-sitter highlighting)</span></div>
$(cat "$tmp/code.html")
</div></body></html>
EOF

"$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$tmp/chrome" \
  --screenshot="$out" --window-size="$width,$height" "file://$tmp/page.html" \
  >"$tmp/chrome.log" 2>&1 || { cat "$tmp/chrome.log" >&2; exit 1; }
[[ -s "$out" ]] || { echo "no screenshot was written" >&2; cat "$tmp/chrome.log" >&2; exit 1; }
echo "wrote $out from $name"
