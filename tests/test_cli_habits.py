"""Command-line habits people bring from helm, kubectl and flux (#16 point 5).

- `gopc completion bash|zsh|fish` prints a script generated from the parser that the real shells
  load and complete with: commands, options, choices.
- `-` reads standard input: `gopc fmt -` formats it to stdout, `gopc check -` checks it (with
  `--stdin-filename FILE` within FILE's program).
- `gopc check FILE` checks the file within its whole program and reports only its diagnostics
  (alone, a file of examples/shop gives false errors: unknown apps).
- Colour: --color decides; with auto a non-empty NO_COLOR turns it off, else FORCE_COLOR on.
- `-q` drops progress lines, `-v` adds detail; diagnostics are always reported.
- Every command's --help ends with examples, and every example parses.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import realtools as rt
from gop.compiler import cli

GOPC = Path(sys.executable).with_name("gopc")
EXAMPLE = rt.REPO_ROOT / "examples" / "shop"
UNFORMATTED = 'app web {\nimage { repository = "ghcr.io/acme/web", tag = "1" }\n}\n'
FORMATTED = 'app web {\n  image { repository = "ghcr.io/acme/web", tag = "1" }\n}\n'


def gopc(*args, stdin: str | None = None, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    done = subprocess.run([str(GOPC), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          input=stdin if stdin is not None else "", env={**environment, **(env or {})}, timeout=300)
    assert "Traceback" not in done.stderr
    return done


# ---- completion -------------------------------------------------------------------------------

def script(shell: str, tmp_path: Path) -> Path:
    done = gopc("completion", shell)
    assert done.returncode == 0 and done.stdout
    path = tmp_path / f"gopc.{shell}"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def bash_complete(completion: Path, line: str) -> list[str]:
    words = line.split(" ")
    program = (f"source {shlex.quote(str(completion))}\n"
               f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
               f"COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}\n"
               "$(complete -p gopc | sed -E 's/.*-F ([^ ]+).*/\\1/') gopc; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_commands_options_and_choices(tmp_path):
    completion = script("bash", tmp_path)
    assert bash_complete(completion, "gopc bu") == ["build"]
    assert "completion" in bash_complete(completion, "gopc c")
    assert "--check" in bash_complete(completion, "gopc build --ch")
    assert bash_complete(completion, "gopc diff --format ") == ["text", "markdown", "json", "sarif"]
    assert bash_complete(completion, "gopc completion ") == ["bash", "zsh", "fish"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (apt-get install fish)")
def test_fish_completes_commands_and_options(tmp_path):
    completion = script("fish", tmp_path)

    def complete(line: str) -> list[str]:
        done = subprocess.run(["fish", "--no-config", "-c", f"source {completion}; complete -C {shlex.quote(line)}"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [row.split("\t")[0] for row in done.stdout.splitlines()]

    assert "build" in complete("gopc bu")
    assert "--check" in complete("gopc build --ch")
    assert {"markdown", "json"} <= set(complete("gopc diff --format "))


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)")
def test_zsh_loads_the_completion_function(tmp_path):
    functions = tmp_path / "functions"
    functions.mkdir()
    script("zsh", tmp_path).rename(functions / "_gopc")
    program = (f"fpath=({functions} $fpath); autoload -U compinit; compinit -u -d {tmp_path}/zcompdump; "
               "print -r -- $_comps[gopc]; autoload -Uz +X _gopc && print loaded")
    done = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_gopc", "loaded"]
    assert subprocess.run(["zsh", "-n", str(functions / "_gopc")], capture_output=True).returncode == 0


# ---- standard input -----------------------------------------------------------------------------

def test_fmt_reads_standard_input():
    done = gopc("fmt", "-", stdin=UNFORMATTED)
    assert (done.returncode, done.stdout, done.stderr) == (0, FORMATTED, "")
    check = gopc("fmt", "-", "--check", stdin=UNFORMATTED)
    assert (check.returncode, check.stdout, check.stderr) == (1, "", "<stdin>: not formatted\n")
    assert gopc("fmt", "-", "--check", stdin=FORMATTED).returncode == 0
    diff = gopc("fmt", "-", "--diff", stdin=UNFORMATTED)
    assert diff.returncode == 0 and "--- <stdin>\n+++ <stdin>\n" in diff.stdout and '+  image {' in diff.stdout
    broken = gopc("fmt", "-", stdin="app web {\n")
    assert broken.returncode == 1 and "<stdin>:" in broken.stderr and "error[E0103]" in broken.stderr
    assert gopc("fmt", "-", "x.gop").returncode == 2


def test_check_reads_standard_input(tmp_path):
    clean = gopc("check", "-", stdin=FORMATTED, cwd=tmp_path)
    assert (clean.returncode, clean.stderr) == (0, "")
    wrong = gopc("check", "-", stdin=FORMATTED.replace('tag = "1"', "tag = 1"), cwd=tmp_path)
    assert wrong.returncode == 1 and "<stdin>:2:" in wrong.stderr and "error[E0301]" in wrong.stderr


def test_check_stdin_as_a_file_of_its_program(shop):
    envs = (shop / "envs.gop").read_text(encoding="utf-8")
    alone = gopc("check", "-", stdin=envs, cwd=shop)
    assert alone.returncode == 1 and "error[E0201]" in alone.stderr  # no apps without the rest of the program
    buffer = gopc("check", "-", "--stdin-filename", "envs.gop", stdin=envs, cwd=shop)
    assert (buffer.returncode, buffer.stderr) == (0, "")
    edited = gopc("check", "-", "--stdin-filename", "envs.gop", stdin=envs.replace("replicas = 6", 'replicas = "six"', 1), cwd=shop)
    assert edited.returncode == 1 and "envs.gop:" in edited.stderr and "error[E0301]" in edited.stderr
    assert gopc("check", "envs.gop", "--stdin-filename", "envs.gop", cwd=shop).returncode == 2


# ---- check FILE ---------------------------------------------------------------------------------

def test_check_file_checks_it_within_its_program(shop):
    assert gopc("check", shop / "envs.gop").returncode == 0  # alone it would not know the apps
    apps = shop / "apps.gop"
    apps.write_text(apps.read_text(encoding="utf-8") + '\nlet broken: int = "x"\n', encoding="utf-8")
    envs_only = gopc("check", shop / "envs.gop")
    assert (envs_only.returncode, envs_only.stderr) == (0, "")  # the other file's error is not this file's
    with_apps = gopc("check", shop / "envs.gop", shop / "apps.gop")
    assert with_apps.returncode == 1 and "apps.gop:" in with_apps.stderr and "error[E0301]" in with_apps.stderr
    whole = gopc("check", shop)
    assert whole.returncode == 1 and "apps.gop:" in whole.stderr


def test_check_files_of_two_programs(shop, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "bad.gop").write_text("let x: int = true\n", encoding="utf-8")
    done = gopc("check", shop / "envs.gop", other / "bad.gop")
    assert done.returncode == 1 and done.stderr.count("error[E0301]") == 1 and "bad.gop:1:" in done.stderr


# ---- colour, -q, -v -------------------------------------------------------------------------------

@pytest.mark.parametrize("env, flags, coloured", [
    ({}, [], False),  # not a terminal
    ({"FORCE_COLOR": "1"}, [], True),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, [], False),
    ({"NO_COLOR": ""}, [], False),  # empty: as if unset
    ({"FORCE_COLOR": "1"}, ["--color", "never"], False),
    ({"NO_COLOR": "1"}, ["--color", "always"], True),
])
def test_colour_follows_the_flag_then_no_color_then_force_color(tmp_path, env, flags, coloured):
    (tmp_path / "bad.gop").write_text("let x: int = true\n", encoding="utf-8")
    done = gopc("check", tmp_path, *flags, env=env)
    assert done.returncode == 1
    assert ("\x1b[" in done.stderr) is coloured


def test_quiet_and_verbose(shop, tmp_path):
    quiet = gopc("build", shop, "-o", tmp_path / "out", "-q")
    assert (quiet.returncode, quiet.stderr) == (0, "")
    (shop / "envs.gop").write_text((shop / "envs.gop").read_text(encoding="utf-8").replace("replicas = 6", "replicas = 7", 1),
                                   encoding="utf-8")
    verbose = gopc("build", shop, "-o", tmp_path / "out", "-v")
    assert verbose.returncode == 0
    assert f"wrote {tmp_path / 'out'}/apps/prod/web/web-values.yaml\n" in verbose.stderr
    (shop / "bad.gop").write_text("let x: int = true\n", encoding="utf-8")
    still_reported = gopc("check", shop, "-q")
    assert still_reported.returncode == 1 and "error[E0301]" in still_reported.stderr
    assert gopc("build", shop, "-o", tmp_path / "out", "-q", "-v").returncode == 2  # one or the other


# ---- --help ---------------------------------------------------------------------------------------

def commands() -> dict:
    parser = cli._build_parser()
    [subparsers] = [a for a in parser._actions if a.dest == "command"]
    return subparsers.choices


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_has_help_with_examples_that_parse(name):
    done = gopc(name, "--help")
    assert done.returncode == 0
    help_text = done.stdout
    assert "\nexamples:\n  gopc " in help_text
    examples = [line.strip() for line in help_text.split("\nexamples:\n", 1)[1].splitlines() if line.strip()]
    assert examples
    for example in examples:
        words = shlex.split(example, comments=True)
        words = words[:next((i for i, w in enumerate(words) if w in ("<", ">")), len(words))]
        args = cli._build_parser().parse_args(words[1:])
        assert args.command.split()[0] == name, example  # `chart add`: a command of a group


# ---- the docs ---------------------------------------------------------------------------------------

def test_docs_cli_names_every_command_and_option():
    text = (rt.REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, parser in commands().items():
        assert f"gopc {name}" in text, name
        for action in parser._actions:
            for option in action.option_strings:
                assert f"`{option}" in text or f" {option}" in text, f"gopc {name} {option}"


def test_docs_ci_covers_every_hook_and_every_input_and_output_of_the_action():
    import yaml

    text = (rt.REPO_ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    hooks = yaml.safe_load((rt.REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    action = yaml.safe_load((rt.REPO_ROOT / "action.yml").read_text(encoding="utf-8"))
    for hook in hooks:
        assert f"`{hook['id']}`" in text
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"`{name}`" in text, name
    config = yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert {hook["id"] for hook in config["repos"][0]["hooks"]} <= {hook["id"] for hook in hooks}
