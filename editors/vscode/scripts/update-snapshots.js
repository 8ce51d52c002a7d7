#!/usr/bin/env node
// Refreshes the TextMate snapshot tests: copies the project's example topologies
// (examples/*.net) and valid parser inputs (golden/parse/*.net) into test/snap/,
// then rewrites their .snap files with vscode-tmgrammar-snap --updateSnapshot.
// Review the snapshot diff before committing it.
//
//   node scripts/update-snapshots.js          copy and re-snapshot
//   node scripts/update-snapshots.js --check  only report copies that differ from their source
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..', '..', '..');
const snapDir = path.join(__dirname, '..', 'test', 'snap');
const sources = [
  ['examples', 'example-'],
  [path.join('golden', 'parse'), 'golden-'],
];

const wanted = new Map();
for (const [dir, prefix] of sources) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) continue;
  for (const name of fs.readdirSync(abs).filter(n => n.endsWith('.net')).sort()) {
    wanted.set(prefix + name, path.join(abs, name));
  }
}

if (process.argv.includes('--check')) {
  const stale = [];
  for (const [name, src] of wanted) {
    const copy = path.join(snapDir, name);
    if (!fs.existsSync(copy) || fs.readFileSync(copy, 'utf8') !== fs.readFileSync(src, 'utf8')) {
      stale.push(name);
    }
  }
  if (stale.length) {
    console.log(`note: snapshot copies differ from their sources (${stale.join(', ')}); ` +
      'run `npm run update-snapshots` in editors/vscode and review the diff');
  } else {
    console.log(`snapshot copies match their ${wanted.size} sources`);
  }
  process.exit(0);
}

fs.mkdirSync(snapDir, { recursive: true });
for (const name of fs.readdirSync(snapDir)) {
  const base = name.replace(/\.snap$/, '');
  if (!wanted.has(base)) fs.rmSync(path.join(snapDir, name));
}
for (const [name, src] of wanted) fs.copyFileSync(src, path.join(snapDir, name));
const bin = path.join(__dirname, '..', 'node_modules', '.bin', 'vscode-tmgrammar-snap');
execFileSync(bin, ['--updateSnapshot', 'test/snap/*.net'],
  { cwd: path.join(__dirname, '..'), stdio: 'inherit' });
