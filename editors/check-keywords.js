#!/usr/bin/env node
// Cross-check: every keyword of the language must be known to every editor grammar.
//
// The keywords are the double-quoted literals of the pest grammar that look like
// words ([a-z][a-z0-9-]*). Each must appear
//   - in the TextMate grammar (vscode/syntaxes/netplan.tmLanguage.json), as a word
//     in one of its regular expressions,
//   - in the tree-sitter grammar (tree-sitter-netplan/src/grammar.json, generated
//     from grammar.js) as a string literal,
//   - in the tree-sitter highlight queries (shared, Helix and Zed copies),
//   - in the Vim syntax (vim/syntax/netplan.vim),
// so the editors never drift from the language. Exits non-zero, naming each
// missing keyword, when one is missing.
'use strict';

const fs = require('fs');
const path = require('path');

const here = __dirname;
const pestPath = path.join(here, '..', 'lang', 'src', 'grammar.pest');

// The language reference's keywords, used only while the pest grammar is absent
// (an editors/ directory used on its own).
const FALLBACK = [
  'network', 'container', 'hook', 'driver', 'subnet', 'ipv6', 'gateway', 'ip-range',
  'aux', 'bridge', 'mtu', 'icc', 'masquerade', 'host-ip', 'label', 'internal', 'option',
  'alias-mode', 'ip', 'ip6', 'alias', 'link', 'as', 'mac', 'publish', 'run', 'dns',
  'on', 'off',
];

function pestKeywords(text) {
  // drop `//` comments (pest has no block comments in our grammar), keep strings
  const code = text.split('\n').map(line => {
    let inString = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (inString && c === '\\') { i++; continue; }
      if (c === '"') inString = !inString;
      if (!inString && c === '/' && line[i + 1] === '/') return line.slice(0, i);
    }
    return line;
  }).join('\n');
  const words = new Set();
  for (const m of code.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    if (/^[a-z][a-z0-9-]*$/.test(m[1])) words.add(m[1]);
  }
  return [...words].sort();
}

let keywords;
let source;
if (fs.existsSync(pestPath)) {
  keywords = pestKeywords(fs.readFileSync(pestPath, 'utf8'));
  source = 'lang/src/grammar.pest';
  if (keywords.length === 0) {
    console.error(`FAIL keywords: no keyword found in ${source}: has its syntax changed?`);
    process.exit(1);
  }
} else {
  keywords = FALLBACK;
  source = 'the built-in list (lang/src/grammar.pest not found)';
  console.warn(`warning: ${pestPath} not found; checking the built-in keyword list`);
}

const wordIn = (text, word) => {
  const esc = word.replace(/[-]/g, '\\-');
  return new RegExp(`(?<![a-z0-9-])${esc}(?![a-z0-9-])`).test(text);
};

// TextMate: the words of every regex in the grammar
function tmRegexes(node, out = []) {
  if (Array.isArray(node)) node.forEach(n => tmRegexes(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (['match', 'begin', 'end', 'while'].includes(k) && typeof v === 'string') out.push(v);
      else tmRegexes(v, out);
    }
  }
  return out;
}

// tree-sitter: every STRING in the generated grammar.json
function tsStrings(node, out = new Set()) {
  if (Array.isArray(node)) node.forEach(n => tsStrings(n, out));
  else if (node && typeof node === 'object') {
    if (node.type === 'STRING' && typeof node.value === 'string') out.add(node.value);
    Object.values(node).forEach(v => tsStrings(v, out));
  }
  return out;
}

// literals of a highlight query: "keyword" strings, plus the flag statements,
// which highlight the node named after the keyword (ipv6_statement, ...)
function queryWords(text) {
  const words = new Set();
  const code = text.replace(/;.*$/gm, '');
  for (const m of code.matchAll(/"([^"\\]*)"/g)) words.add(m[1]);
  for (const m of code.matchAll(/\(([a-z0-9_]+)_statement\)\s*@keyword/g)) {
    words.add(m[1].replace(/_/g, '-'));
  }
  // values such as on/off are highlighted through their node: (boolean) ...
  if (/\(boolean\)\s*@/.test(code)) {
    const grammar = readJson('tree-sitter-netplan/src/grammar.json');
    for (const w of tsStrings(grammar.rules.boolean)) words.add(w);
  }
  return words;
}

function readJson(rel) {
  return JSON.parse(fs.readFileSync(path.join(here, rel), 'utf8'));
}

const targets = [
  {
    name: 'TextMate grammar (vscode/syntaxes/netplan.tmLanguage.json)',
    has: (() => {
      const text = tmRegexes(readJson('vscode/syntaxes/netplan.tmLanguage.json')).join('\n');
      return kw => wordIn(text, kw);
    })(),
  },
  {
    name: 'tree-sitter grammar (tree-sitter-netplan/src/grammar.json)',
    has: (() => {
      const strings = tsStrings(readJson('tree-sitter-netplan/src/grammar.json'));
      return kw => strings.has(kw);
    })(),
  },
  ...[
    'tree-sitter-netplan/queries/highlights.scm',
    'helix/queries/netplan/highlights.scm',
    'zed/languages/netplan/highlights.scm',
  ].map(rel => ({
    name: `highlight query (${rel})`,
    has: (() => {
      const words = queryWords(fs.readFileSync(path.join(here, rel), 'utf8'));
      return kw => words.has(kw);
    })(),
  })),
  {
    name: 'Vim syntax (vim/syntax/netplan.vim)',
    has: (() => {
      const text = fs.readFileSync(path.join(here, 'vim/syntax/netplan.vim'), 'utf8')
        .split('\n').filter(l => /^\s*syn(tax)?\s+(keyword|match|region)/.test(l)).join('\n');
      return kw => wordIn(text, kw);
    })(),
  },
];

let missing = 0;
for (const t of targets) {
  const lacking = keywords.filter(kw => !t.has(kw));
  if (lacking.length) {
    missing += lacking.length;
    console.error(`FAIL ${t.name} lacks ${lacking.length} keyword(s): ${lacking.join(', ')}`);
  }
}
if (missing) {
  console.error(`keyword cross-check FAILED: the editors are behind ${source}`);
  process.exit(1);
}
console.log(`keyword cross-check: all ${keywords.length} keywords of ${source} are in ` +
  `the TextMate grammar, the tree-sitter grammar and queries, and the Vim syntax`);
