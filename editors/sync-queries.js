#!/usr/bin/env node
// Derives the Helix and Zed highlight queries from the shared one,
// tree-sitter-netplan/queries/highlights.scm (Neovim / Zed capture names).
//
//   node sync-queries.js          rewrite the copies
//   node sync-queries.js --check  fail when a copy is out of date (the tests run this)
'use strict';

const fs = require('fs');
const path = require('path');

const here = __dirname;
const SHARED = 'tree-sitter-netplan/queries/highlights.scm';

// Helix names its scopes differently (see the Helix book, "Themes").
const HELIX = {
  'type.definition': 'type',
  'function.call': 'function',
  'variable.member': 'variable.other.member',
  property: 'variable.other.member',
  boolean: 'constant.builtin.boolean',
  number: 'constant.numeric',
  'string.escape': 'constant.character.escape',
};

const header = (editor) =>
  `; Generated from ${SHARED} by editors/sync-queries.js for ${editor}: do not edit.\n\n`;

const shared = fs.readFileSync(path.join(here, SHARED), 'utf8');

const outputs = {
  'helix/queries/netplan/highlights.scm':
    header('Helix') + shared.replace(/@([a-z.]+)/g, (all, name) =>
      HELIX[name] ? `@${HELIX[name]}` : all),
  'zed/languages/netplan/highlights.scm': header('Zed') + shared,
};

let stale = 0;
for (const [rel, text] of Object.entries(outputs)) {
  const file = path.join(here, rel);
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (current !== text) {
      console.error(`FAIL ${rel} is out of date: run \`node editors/sync-queries.js\``);
      stale++;
    }
  } else {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    console.log(`wrote ${rel}`);
  }
}
if (stale) process.exit(1);
if (process.argv.includes('--check')) console.log('Helix and Zed queries are in sync');
