// The gop extension: starts the gopc language server (`gopc lsp`, LSP over stdio) for .gop files.
// Plain JavaScript that VS Code loads as it is; highlighting comes from syntaxes/gop.tmLanguage.json.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');
const { resolveProgram } = require('./locate');

const CLIENT_ID = 'gop'; // the client reads `gop.trace.server` by this id
const CLIENT_NAME = 'gop Language Server';
const COMMAND_SETTING = 'gop.server.command';

let client;
let outputChannel;
// One watcher for every client: a client unhooks its listeners on stop but never disposes the watcher.
let gopFileWatcher;
// Starts and stops run one after another, so a restart never races a setting change.
let lifecycle = Promise.resolve();

function activate(context) {
  outputChannel = vscode.window.createOutputChannel(CLIENT_NAME);
  gopFileWatcher = vscode.workspace.createFileSystemWatcher('**/*.gop');
  context.subscriptions.push(
    outputChannel,
    gopFileWatcher,
    vscode.commands.registerCommand('gop.restartServer', () => queue(restart)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(COMMAND_SETTING)) {
        queue(restart);
      }
    }),
  );
  return queue(start);
}

function deactivate() {
  return queue(stop);
}

function queue(step) {
  lifecycle = lifecycle.then(step, step);
  return lifecycle;
}

async function restart() {
  await stop();
  await start();
}

async function stop() {
  if (!client) {
    return;
  }
  const running = client;
  client = undefined;
  try {
    await running.stop();
  } catch (error) {
    // A server that already exited cannot be stopped; there is nothing left to clean up.
    outputChannel.appendLine(`gop: stopping the language server: ${messageOf(error)}`);
  }
}

async function start() {
  const configured = vscode.workspace.getConfiguration().get(COMMAND_SETTING);
  const argv = commandLine(configured);
  if (argv.length === 0) {
    reportStartFailure(`the setting ${COMMAND_SETTING} is empty`);
    return;
  }
  const folder = firstWorkspaceFolder();
  const [program, ...args] = argv.map((part) => expandVariables(part, folder));
  // A bare `gopc` is found in the workspace's .venv (trusted workspaces only), else on PATH: VS Code
  // started from a desktop or code-server does not have the venv on its PATH (spawn gopc ENOENT).
  const command = resolveProgram(program, folder, { trusted: vscode.workspace.isTrusted });
  // No `transport`: the client would append `--stdio`; the command runs exactly as configured.
  const serverOptions = { command, args, options: folder ? { cwd: folder } : {} };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'gop' },
      { scheme: 'untitled', language: 'gop' },
    ],
    synchronize: {
      // Imports make one file's meaning depend on others, also on files not open in the editor.
      fileEvents: gopFileWatcher,
    },
    outputChannel,
  };
  const candidate = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  outputChannel.appendLine(`gop: starting ${[command, ...args].join(' ')}`);
  try {
    await candidate.start();
    client = candidate;
  } catch (error) {
    reportStartFailure(`${[command, ...args].join(' ')}: ${messageOf(error)}`);
  }
}

// The setting is a list [program, arg, ...] or one string split on whitespace.
function commandLine(configured) {
  if (Array.isArray(configured)) {
    return configured.map(String).filter((part) => part.length > 0);
  }
  if (typeof configured === 'string') {
    return configured.trim().split(/\s+/).filter((part) => part.length > 0);
  }
  return [];
}

function firstWorkspaceFolder() {
  const folders = vscode.workspace.workspaceFolders;
  return folders && folders.length > 0 ? folders[0].uri.fsPath : undefined;
}

function expandVariables(part, folder) {
  const home = process.env.HOME || process.env.USERPROFILE || '';
  const expanded = part.replace(/\$\{userHome\}/g, home).replace(/^~(?=$|[\\/])/, home);
  return folder ? expanded.replace(/\$\{workspaceFolder\}/g, folder) : expanded;
}

// Not awaited: the next start or stop must not wait for the user to close the notification.
function reportStartFailure(reason) {
  outputChannel.appendLine(`gop: the language server did not start: ${reason}`);
  const openSettings = 'Open Settings';
  const showOutput = 'Show Output';
  vscode.window
    .showErrorMessage(
      `gop: the language server did not start. Set ${COMMAND_SETTING} to the command that runs \`gopc lsp\`.`,
      openSettings,
      showOutput,
    )
    .then((choice) => {
      if (choice === openSettings) {
        vscode.commands.executeCommand('workbench.action.openSettings', COMMAND_SETTING);
      } else if (choice === showOutput) {
        outputChannel.show(true);
      }
    });
}

function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

module.exports = { activate, deactivate };
