// Where the program of gop.server.command is: kept apart from extension.js (no `vscode` here), so
// node runs its tests (tests/locate.test.js) without VS Code.
'use strict';

const fs = require('fs');
const path = require('path');

// The virtual environments of a workspace, in the order they are tried: what `make venv`,
// `python -m venv .venv` and `uv venv` create.
const VENV_DIRECTORIES = ['.venv', 'venv'];

function isExecutableFile(candidate) {
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
    return fs.statSync(candidate).isFile();
  } catch {
    return false;
  }
}

// The names a program goes by on this platform (`gopc`, or `gopc.exe`, `gopc.cmd` ... on Windows).
function executableNames(program, platform, env) {
  if (platform !== 'win32' || path.extname(program)) {
    return [program];
  }
  const extensions = (env.PATHEXT || '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean);
  return extensions.map((extension) => program + extension.toLowerCase());
}

// The program to spawn for `program` as written in the setting:
// - an absolute path: as it is;
// - a relative path (`.venv/bin/gopc`): from the first workspace folder;
// - a bare name (`gopc`): the workspace's own virtual environment first (`.venv/bin/gopc`,
//   `venv/bin/gopc`; only in a trusted workspace, since it runs code the workspace ships), then
//   the directories of PATH; unchanged when neither has it, so spawning reports ENOENT.
function resolveProgram(program, folder, { trusted = true, env = process.env, platform = process.platform } = {}) {
  if (path.isAbsolute(program)) {
    return program;
  }
  if (/[\\/]/.test(program)) {
    return folder ? path.join(folder, program) : program;
  }
  const names = executableNames(program, platform, env);
  const binDirectory = platform === 'win32' ? 'Scripts' : 'bin';
  const venvs = trusted && folder ? VENV_DIRECTORIES.map((venv) => path.join(folder, venv, binDirectory)) : [];
  const searchPath = (env.PATH || env.Path || '').split(path.delimiter).filter(Boolean);
  for (const directory of [...venvs, ...searchPath]) {
    for (const name of names) {
      const candidate = path.join(directory, name);
      if (isExecutableFile(candidate)) {
        return candidate;
      }
    }
  }
  return program;
}

module.exports = { resolveProgram, VENV_DIRECTORIES };
