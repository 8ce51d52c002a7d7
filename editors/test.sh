#!/usr/bin/env bash
# Runs every test of the editor support for the netplan language (.net files):
#
#   TextMate (VS Code)  generated grammar in sync, scope assertions, snapshots,
#                       every example fully highlighted, extension packs
#   tree-sitter         generated parser in sync, corpus, highlight assertions,
#                       every example and valid parser input parses without errors,
#                       every query compiles, Helix and Zed query copies in sync
#   Vim                 syntax assertions and file type detection
#   cross-check         every keyword of lang/src/grammar.pest is in every grammar
#
# Installs what it needs when missing (npm ci; the tree-sitter CLI through cargo),
# and ends with the line `N passed, M failed`; exits non-zero when anything failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$here"
export PATH="$HOME/.cargo/bin:$PATH"

TREE_SITTER_VERSION=0.27.1
# ABI 14 parsers load in every current editor (Neovim 0.9+, Helix, Zed); ABI 15 needs a
# tree-sitter 0.25 runtime
TREE_SITTER_ABI=14

passed=0
failed=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
fail() {
  failed=$((failed + 1))
  printf 'FAIL  %s\n' "$1"
  if [[ -n "${2:-}" && -s "$2" ]]; then sed -e 's/^/      /' "$2" | head -n 60; fi
}
# check NAME COMMAND...: one check, its output shown only when it fails
check() {
  local name="$1"; shift
  if "$@" >"$tmp/out" 2>&1; then pass "$name"; else fail "$name" "$tmp/out"; fi
}
section() { printf '\n== %s\n' "$1"; }

# ------------------------------------------------------------------ install
section "setup"
command -v node >/dev/null || { echo "node and npm are needed (Node.js 20 or newer)" >&2; exit 1; }
# npm ci when node_modules is missing or older than the lock file
stamp="vscode/node_modules/.netplan-lock-stamp"
if [[ ! -f "$stamp" ]] || ! cmp -s vscode/package-lock.json "$stamp"; then
  echo "installing the VS Code test tools (npm ci)"
  (cd vscode && npm ci --no-audit --no-fund --loglevel=error)
  cp vscode/package-lock.json "$stamp"
fi
if ! command -v tree-sitter >/dev/null; then
  echo "installing the tree-sitter CLI $TREE_SITTER_VERSION (cargo install, several minutes)"
  cargo install tree-sitter-cli --locked --version "$TREE_SITTER_VERSION"
fi
ts_version="$(tree-sitter --version | awk '{print $2}')"
echo "node $(node --version), tree-sitter $ts_version, vim: $(command -v vim || echo none)"

# a private tree-sitter config: no user config is read or written
export TREE_SITTER_DIR="$tmp/tree-sitter"
export TREE_SITTER_LIBDIR="$tmp/tree-sitter/lib"
mkdir -p "$TREE_SITTER_LIBDIR"
printf '{"parser-directories": ["%s"]}\n' "$here" > "$TREE_SITTER_DIR/config.json"

# the real topology files: examples and valid parser inputs
shopt -s nullglob
files=("$root"/examples/*.net "$root"/golden/parse/*.net "$here"/samples/*.net)
shopt -u nullglob
rel() { printf '%s' "${1#"$root"/}"; }

# ------------------------------------------------------------------ TextMate
section "TextMate grammar (VS Code)"
tm="$here/vscode/node_modules/.bin"
check "tmLanguage.json is generated from scripts/build-grammar.js" \
  node vscode/scripts/build-grammar.js --check

# one result per assertion file
(cd vscode && "$tm/vscode-tmgrammar-test" 'test/*.test.net') >"$tmp/tm" 2>&1 || true
for f in vscode/test/*.test.net; do
  name="${f#vscode/}"
  if grep -qF "$name" "$tmp/tm" && ! grep -F "$name" "$tmp/tm" | grep -qv 'run successfuly'; then
    pass "scope assertions $name"
  else
    grep -F "$name" "$tmp/tm" >"$tmp/out" || echo "no result for $name" >"$tmp/out"
    fail "scope assertions $name" "$tmp/out"
  fi
done

for f in vscode/test/snap/*.net; do
  check "snapshot ${f#vscode/}" bash -c "cd vscode && '$tm/vscode-tmgrammar-snap' '${f#vscode/}'"
done
node vscode/scripts/update-snapshots.js --check

for f in "${files[@]}"; do
  check "fully highlighted $(rel "$f")" node vscode/scripts/check-files.js "$f"
done

check "extension packs (vsce package)" \
  bash -c "cd vscode && '$tm/vsce' package --allow-missing-repository --skip-license --out '$tmp/netplan.vsix'"

# ------------------------------------------------------------------ tree-sitter
section "tree-sitter grammar"
ts="tree-sitter-netplan"
cp -R "$ts" "$tmp/ts-gen"
if (cd "$tmp/ts-gen" && tree-sitter generate --abi "$TREE_SITTER_ABI") >"$tmp/out" 2>&1 \
  && diff -r "$ts/src" "$tmp/ts-gen/src" >>"$tmp/out" 2>&1; then
  pass "src/ is generated from grammar.js"
else
  echo "regenerate with \`tree-sitter generate --abi $TREE_SITTER_ABI\` in $ts (CLI $TREE_SITTER_VERSION; this one is $ts_version)" >>"$tmp/out"
  fail "src/ is generated from grammar.js" "$tmp/out"
fi

# corpus and highlight tests, one result per file
(cd "$ts" && tree-sitter test --json-summary) >"$tmp/ts.json" 2>"$tmp/ts.err" || true
if node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const leaves = n => n.children ? n.children.flatMap(leaves) : [n];
  for (const file of r.parse_results) {
    const bad = leaves(file).filter(t => t.outcome !== "Passed");
    console.log([bad.length ? "FAIL" : "ok", `corpus test/corpus/${file.name}.txt`,
      bad.map(t => `${t.name}: ${t.outcome}`).join("; ")].join("\t"));
  }
  for (const h of r.highlight_results) {
    const ok = Object.keys(h.outcome)[0] === "AssertionPassed";
    console.log([ok ? "ok" : "FAIL", `highlight test/highlight/${h.name}`,
      ok ? "" : JSON.stringify(h.outcome)].join("\t"));
  }
  ' "$tmp/ts.json" >"$tmp/ts.lines" 2>>"$tmp/ts.err" && [[ -s "$tmp/ts.lines" ]]; then
  while IFS=$'\t' read -r status name detail; do
    if [[ "$status" == ok ]]; then pass "$name"; else echo "$detail" >"$tmp/out"; fail "$name" "$tmp/out"; fi
  done <"$tmp/ts.lines"
else
  fail "tree-sitter test" "$tmp/ts.err"
fi

for f in "${files[@]}"; do
  check "parses without errors $(rel "$f")" \
    bash -c "cd '$ts' && tree-sitter parse --quiet '$f'"
done

for q in "$ts"/queries/*.scm helix/queries/netplan/*.scm zed/languages/netplan/*.scm; do
  check "query compiles $q" \
    bash -c "cd '$ts' && tree-sitter query '$here/$q' test/highlight/networks.net"
done
check "Helix and Zed highlight queries match the shared one" node sync-queries.js --check

# ------------------------------------------------------------------ Vim
section "Vim"
if command -v vim >/dev/null; then
  check "syntax assertions vim/test/syntax.net" \
    bash -c "cd vim && vim -Nu NONE -i NONE -es -S test/check.vim"
else
  echo "skipped: vim is not installed"
fi

# ------------------------------------------------------------------ cross-check
section "keyword cross-check"
check "every keyword of lang/src/grammar.pest is in every editor grammar" node check-keywords.js
cat "$tmp/out"

printf '\n%d passed, %d failed\n' "$passed" "$failed"
[[ "$failed" -eq 0 ]]
