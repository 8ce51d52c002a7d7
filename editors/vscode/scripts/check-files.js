#!/usr/bin/env node
// Tokenizes real topology files with the TextMate grammar, as VS Code does, and
// fails when any piece of text is left unhighlighted (only `source.netplan` and
// `meta.*` scopes) or is marked `invalid`. Valid files must be fully coloured.
//
// usage: node scripts/check-files.js FILE.net...
'use strict';

const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const GRAMMAR = path.join(__dirname, '..', 'syntaxes', 'netplan.tmLanguage.json');

async function main(files) {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: sources => new oniguruma.OnigScanner(sources),
      createOnigString: s => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR),
  });
  const grammar = await registry.loadGrammar('source.netplan');

  let failed = 0;
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    const problems = [];
    let stack = vsctm.INITIAL;
    lines.forEach((line, i) => {
      const result = grammar.tokenizeLine(line, stack);
      for (const token of result.tokens) {
        const text = line.slice(token.startIndex, token.endIndex);
        const where = `${file}:${i + 1}:${token.startIndex + 1}`;
        if (token.scopes.some(s => s.startsWith('invalid'))) {
          problems.push(`${where}: \`${text}\` is marked invalid (${token.scopes.join(' ')})`);
        } else if (text.trim() &&
          token.scopes.every(s => s === 'source.netplan' || s.startsWith('meta.'))) {
          problems.push(`${where}: \`${text.trim()}\` is not highlighted (${token.scopes.join(' ')})`);
        }
      }
      stack = result.ruleStack;
    });
    if (problems.length) {
      failed++;
      console.error(`✖ ${file}`);
      problems.slice(0, 20).forEach(p => console.error(`  ${p}`));
    } else {
      console.log(`✓ ${file} fully highlighted (${lines.length} lines)`);
    }
  }
  if (failed) process.exit(1);
}

main(process.argv.slice(2)).catch(err => {
  console.error(err);
  process.exit(1);
});
