// node --test tests/locate.test.js: where the extension finds `gopc` (locate.js).
'use strict';

const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');
const { resolveProgram } = require('../locate');

function executable(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\n');
  fs.chmodSync(file, 0o755);
  return file;
}

const scratches = [];
test.after(() => scratches.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

function scratch() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gop-locate-'));
  scratches.push(root);
  return root;
}

test('a bare name is taken from the workspace .venv before PATH', () => {
  const root = scratch();
  const workspace = path.join(root, 'workspace');
  const venvGopc = executable(path.join(workspace, '.venv', 'bin', 'gopc'));
  const pathGopc = executable(path.join(root, 'bin', 'gopc'));
  const env = { PATH: path.join(root, 'bin') };
  assert.strictEqual(resolveProgram('gopc', workspace, { env, platform: 'linux' }), venvGopc);
  assert.strictEqual(resolveProgram('gopc', workspace, { env, platform: 'linux', trusted: false }), pathGopc);
  assert.strictEqual(resolveProgram('gopc', undefined, { env, platform: 'linux' }), pathGopc);
});

test('venv/ is tried after .venv/, and a file that is not executable is skipped', () => {
  const root = scratch();
  const workspace = path.join(root, 'workspace');
  fs.mkdirSync(path.join(workspace, '.venv', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(workspace, '.venv', 'bin', 'gopc'), 'not executable');
  const venvGopc = executable(path.join(workspace, 'venv', 'bin', 'gopc'));
  assert.strictEqual(resolveProgram('gopc', workspace, { env: { PATH: '' }, platform: 'linux' }), venvGopc);
});

test('a bare name found nowhere stays bare, so that spawning reports it', () => {
  const root = scratch();
  assert.strictEqual(resolveProgram('gopc', root, { env: { PATH: path.join(root, 'none') }, platform: 'linux' }), 'gopc');
});

test('paths are kept or resolved against the workspace', () => {
  assert.strictEqual(resolveProgram('/opt/gopc/bin/gopc', '/work', { env: {} }), '/opt/gopc/bin/gopc');
  assert.strictEqual(resolveProgram('.venv/bin/gopc', '/work', { env: {} }), path.join('/work', '.venv', 'bin', 'gopc'));
});

test('on Windows the Scripts directory and PATHEXT are used', () => {
  const root = scratch();
  const workspace = path.join(root, 'workspace');
  const exe = executable(path.join(workspace, '.venv', 'Scripts', 'gopc.exe'));
  assert.strictEqual(resolveProgram('gopc', workspace, { env: { PATHEXT: '.EXE;.CMD' }, platform: 'win32' }), exe);
});
