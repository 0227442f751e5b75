"""The command table (viewer.cli.main) and where a passphrase comes from on the command line.

Every command is a module with ``add_parser`` and ``run``; the table lists each once; ``python -m
viewer.cli`` is the console script. The passphrase sources are driven as an examiner would: a file, the
environment, a prompt on a real pseudo-terminal (the child's controlling terminal, as getpass needs).
"""

from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders.terminal import read_terminal
from tests.case.test_case_store import needs_secret_service
from viewer.case import TEST_KDF, create_case
from viewer.cli import common
from viewer.cli.main import COMMANDS, build_parser, command_module

REPO = Path(__file__).resolve().parents[2]
PW = "correct horse battery staple"
ENV_KEYS = ("EVIDENCE_VIEWER_PASSPHRASE", "EVIDENCE_VIEWER_NEW_PASSPHRASE")


# -- the table --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_module_registers_itself(name):
    module = command_module(name)
    assert callable(module.run) and callable(module.add_parser)
    parser = argparse.ArgumentParser(prog="evidence-viewer")
    sub = parser.add_subparsers(dest="command")
    p = module.add_parser(sub)
    assert isinstance(p, argparse.ArgumentParser)
    assert list(sub.choices) == [name]  # the module adds its own command and nothing else
    assert p.get_default("func") is not None


def test_the_table_holds_each_command_once_and_every_command_module_is_in_it():
    assert len(set(COMMANDS)) == len(COMMANDS)
    helpers = {"main", "common", "passphrase", "signing", "terminal", "__init__", "__main__"}
    modules = {p.stem for p in (REPO / "viewer" / "cli").glob("*.py")} - helpers
    assert modules == set(COMMANDS)
    full = build_parser()
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(COMMANDS)


def test_python_dash_m_viewer_cli_is_the_console_script():
    for module in ("viewer.cli", "viewer.cli.main"):
        proc = subprocess.run([sys.executable, "-m", module, "info", "/nonexistent/x.dmp"], capture_output=True,
                              text=True, timeout=60, cwd=REPO)
        assert proc.returncode == common.ExitCode.USAGE
        assert proc.stderr.startswith("evidence-viewer: ") and proc.stderr.count("\n") == 1, proc.stderr


def test_one_line_errors_keeps_the_code_of_a_cli_error(capsys):
    @common.one_line_errors()
    def run(args):
        raise common.CliError("found it", code=common.ExitCode.FOUND)

    assert run(argparse.Namespace()) == 1
    assert capsys.readouterr().err == "evidence-viewer: found it\n"


def test_one_public_key_loader_for_every_command(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n")
    with pytest.raises(common.CliError, match="cannot use public key file"):
        common.load_public_keys([str(bad)])
    assert common.load_public_keys(None) == [] and common.load_public_keys([]) == []


# -- passphrase sources -----------------------------------------------------------------------------
def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    return subprocess.run([sys.executable, "-m", "viewer.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env={**base, **(env or {})}, cwd=REPO)


def on_a_terminal(args: list[str], answer: str | None, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its controlling terminal; type ``answer`` at the prompt.
    Returns the exit code and everything the terminal showed."""
    base = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout, stderr and /dev/tty
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "-m", "viewer.cli", *args], {**base, **(env or {})})
    typed = [answer is None]

    def type_at_the_prompt(seen: bytes) -> None:
        if not typed[0] and b"Passphrase for" in seen:
            os.write(fd, answer.encode() + b"\n")
            typed[0] = True

    seen = read_terminal(fd, on_output=type_at_the_prompt)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def keyring_case(folder: Path) -> Path:
    """A case with a keyring slot (and a passphrase slot) in ``folder``."""
    case = folder / "kr.evcase"
    create_case(case, "Keyring case", "Ann Quill", passphrase=PW, kdf=TEST_KDF)
    return case


@pytest.fixture(scope="module")
def pw_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unlock") / "pw.evcase"
    create_case(path, "Passphrase only", "Ann Quill", passphrase=PW, use_keyring=False, kdf=TEST_KDF)
    return path


def test_passphrase_from_file_and_from_the_environment(pw_case, tmp_path):
    pwfile = tmp_path / "pw.txt"
    pwfile.write_text(PW + "\r\n")
    assert "Passphrase only" in cli("case", "show", pw_case, "--passphrase-file", pwfile).stdout
    assert "Passphrase only" in cli("case", "show", pw_case, env={"EVIDENCE_VIEWER_PASSPHRASE": PW}).stdout
    # The file beats the environment: a wrong file is wrong although the variable would open the case.
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not it\n")
    proc = cli("case", "show", pw_case, "--passphrase-file", wrong, env={"EVIDENCE_VIEWER_PASSPHRASE": PW})
    assert proc.returncode == 2 and "wrong passphrase" in proc.stderr and "not it" not in proc.stderr


def test_the_prompt_on_a_terminal(pw_case):
    code, shown = on_a_terminal(["case", "show", str(pw_case), "--no-keyring"], PW)
    assert code == 0, shown
    assert "Passphrase for pw.evcase:" in shown and "Passphrase only" in shown and PW not in shown


def test_an_empty_answer_at_the_prompt_is_refused(pw_case):
    code, shown = on_a_terminal(["case", "show", str(pw_case)], "")
    assert code == 2 and "an empty passphrase" in shown and "wrong passphrase" not in shown


def test_no_terminal_names_the_ways_to_give_a_passphrase(pw_case):
    for command in (["case", "show", pw_case], ["export", pw_case, "--out", pw_case.with_suffix(".zip")]):
        proc = cli(*command, "--no-keyring")
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "--passphrase-file" in proc.stderr and "EVIDENCE_VIEWER_PASSPHRASE" in proc.stderr


@needs_secret_service
def test_keyring_on_and_off(tmp_path):
    case = keyring_case(tmp_path)
    assert cli("case", "show", case).returncode == 0  # the keyring, no passphrase anywhere
    proc = cli("case", "show", case, "--no-keyring")
    assert proc.returncode == 2 and "keyring not used" in proc.stderr and "--passphrase-file" in proc.stderr
    assert cli("case", "show", case, "--no-keyring", env={"EVIDENCE_VIEWER_PASSPHRASE": PW}).returncode == 0


@needs_secret_service
def test_an_unusable_keyring_without_a_terminal_says_how_to_give_a_passphrase(tmp_path):
    """The case the old copies disagreed on: `case` printed the keyring's failure alone, `export` added
    how to give a passphrase. Now every command does the latter."""
    case = keyring_case(tmp_path)
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    for command in (["case", "show", case], ["export", case, "--out", tmp_path / "b.zip"]):
        proc = cli(*command, env=env)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "no OS keyring is available" in proc.stderr and "--passphrase-file" in proc.stderr


@needs_secret_service
def test_an_unusable_keyring_on_a_terminal_says_why_then_asks(tmp_path):
    case = keyring_case(tmp_path)
    code, shown = on_a_terminal(["case", "show", str(case)], PW,
                                env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert code == 0, shown
    assert shown.index("no OS keyring is available") < shown.index("Passphrase for kr.evcase:")
    assert "Keyring case" in shown
