#!/usr/bin/env node
// Tokenizes .gop files with the extension's TextMate grammar, as VS Code does (vscode-textmate on
// the Oniguruma WASM engine), and prints JSON: for each file its tokens per line and the depth of
// the grammar's rule stack at the end. A depth other than 1 means a region (a string, a block,
// a declaration) never closed. Used by tests/test_vscode.py and handy when editing the grammar:
//   node tests/tokenize.js ../../examples/shop/apps.gop
'use strict';
const fs = require('fs');
const path = require('path');
const textmate = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const GRAMMAR = path.join(__dirname, '..', 'syntaxes', 'gop.tmLanguage.json');

async function loadGrammar() {
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === 'source.gop' ? textmate.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null,
  });
  return registry.loadGrammar('source.gop');
}

function tokenizeFile(grammar, file) {
  let stack = textmate.INITIAL;
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/).map((line) => {
    const result = grammar.tokenizeLine(line, stack);
    stack = result.ruleStack;
    return result.tokens.map((token) => ({
      text: line.slice(token.startIndex, token.endIndex),
      scopes: token.scopes,
    }));
  });
  return { file, lines, endDepth: stack.depth };
}

async function main(files) {
  if (files.length === 0) {
    process.stderr.write('usage: node tests/tokenize.js FILE.gop...\n');
    process.exit(2);
  }
  const grammar = await loadGrammar();
  process.stdout.write(JSON.stringify(files.map((file) => tokenizeFile(grammar, file)), null, 1) + '\n');
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`tokenize: ${error.message}\n`);
  process.exit(1);
});
