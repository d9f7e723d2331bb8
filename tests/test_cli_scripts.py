"""The CLI in scripts: --json on every command that prints data, quiet closed pipes, exit codes
that say what happened, progress on stderr (never in the data on stdout)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli import build_parser, main
from appliance.db.connection import connect, transaction
from appliance.edgar.sample import sample_dir
from appliance.progress import Progress
from tests.helpers import init_dir
from tests.support.live import server_env

# Commands that print no data (or have their own format flag): everything else has --json.
NO_JSON = {
    ("serve",),  # a server
    ("usage", "export"),  # --format csv|jsonl
    ("release", "sign"),  # writes files; prints one status line
}


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(leaves(sub, (*path, name)))
    return found or {path: parser}


def test_every_command_that_prints_data_has_json() -> None:
    commands = leaves(build_parser())
    assert len(commands) > 35
    missing = [
        " ".join(path)
        for path, parser in commands.items()
        if path not in NO_JSON and not any("--json" in a.option_strings for a in parser._actions)
    ]
    assert missing == []


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the bundled sample and 3,000 usage events (megabytes of output)."""
    d = tmp_path_factory.mktemp("pipes") / "data"
    assert main(["init", "--json", "--data-dir", str(d)]) == 0
    assert main(["filings", "sample", "--json", "--data-dir", str(d)]) == 0
    conn = connect(d / "appliance.sqlite3")
    with transaction(conn):
        conn.executemany(
            "INSERT INTO usage_events (user_id, endpoint, request_id, cost, quota_before,"
            " quota_after, status) VALUES (1, 'qa', ?, 1, 0, 0, 'rejected')",
            [(f"req-{i:06d}-{'x' * 200}",) for i in range(3000)],
        )
    conn.close()
    return d


@pytest.mark.parametrize(
    "command",
    [
        "usage export --format jsonl",
        "filings show 0000320193-24-000123 --item 1A",
        "filings list",
    ],
)
def test_a_closed_pipe_ends_quietly(sample_data: Path, command: str) -> None:
    # `| head -1` for real: the reader exits after one line and the writer gets EPIPE.
    script = f'"$PY" -m appliance {command} | head -1; echo "status=${{PIPESTATUS[0]}}" >&2'
    result = subprocess.run(
        ["bash", "-c", script],
        env={**server_env(sample_data), "PY": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    status = result.stderr.strip().splitlines()[-1]
    assert status in ("status=0", "status=141"), result.stderr  # 0: it all fit in the pipe


def appliance_cli(
    *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m appliance ARGS`` as an operator runs it (no inherited APPLIANCE_*)."""
    full = server_env(data_dir or Path("data"))
    if data_dir is None:
        full.pop("APPLIANCE_DATA_DIR")
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_exit_codes_say_what_happened(
    sample_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(sample_data)
    # Asked to index a company with nothing imported: exit 1 and say so (was 0).
    assert main(["index", "MSFT", "--data-dir", d]) == 1
    assert "nothing imported for MSFT" in capsys.readouterr().err
    assert main(["index", "NOSUCH", "--data-dir", d]) == 3  # not found
    assert main(["jobs", "show", "999", "--data-dir", d]) == 3
    assert main(["symbols", "show", "ZZZZ", "--data-dir", d]) == 3
    # License keys for a malformed install id or an expiry in the past are never issued.
    key = tmp_path / "vendor"
    assert main(["license", "keygen", "--out", str(key)]) == 0
    pem = str(key / "license_signing_key.pem")
    capsys.readouterr()
    for bad in (
        ["--install-id", "not-a-uuid"],
        ["--install-id", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "--expires", "2000-01-01"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["license", "issue", "--private-key", pem, "--credits", "5", *bad])
        assert exit_info.value.code == 2
        captured = capsys.readouterr()
        assert captured.out == "" and (
            "not an install id" in captured.err or "past" in captured.err
        )


def test_the_real_cli_in_a_subprocess(sample_data: Path, tmp_path: Path) -> None:
    """One end-to-end pass as a shell script sees it: codes, one-line errors, stdout clean."""
    done = appliance_cli("credits", "grant", "admin@localhost", "5", "--ref", "INV-1", "--json",
                         data_dir=sample_data)  # fmt: skip
    assert done.returncode == 0 and json.loads(done.stdout)["granted"] is True
    again = appliance_cli("credits", "grant", "admin@localhost", "5", "--ref", "INV-1", "--json",
                          data_dir=sample_data)  # fmt: skip
    assert again.returncode == 1 and json.loads(again.stdout)["granted"] is False
    assert "already in the ledger" in again.stderr
    bad = appliance_cli("config", "show", env={"APPLIANCE_PORT": "abc"})
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr
    empty = appliance_cli("users", "list", data_dir=tmp_path / "nothing-here")
    assert empty.returncode == 2 and "nothing-here" in empty.stderr
    assert not (tmp_path / "nothing-here").exists()


def test_filings_import_shows_progress_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = init_dir(capsys, tmp_path / "d")
    assert main(["filings", "import", str(sample_dir() / "filings"), "--data-dir", d]) == 0
    captured = capsys.readouterr()
    assert "imported" in captured.out and "importing:" not in captured.out
    # The progress line is the last of its kind; a note on indexing may follow it.
    progress = [line for line in captured.err.splitlines() if line.startswith("importing:")]
    assert progress and progress[-1].startswith("importing: 5/5 files (100%)")
    assert " MB" in progress[-1]
    assert (
        main(["filings", "import", str(sample_dir() / "filings"), "--json", "--data-dir", d]) == 0
    )
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["counts"] == {"unchanged": 5}


class _Terminal:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_progress_redraws_on_a_terminal_and_estimates_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("appliance.progress.time.monotonic", lambda: clock[0])
    term = _Terminal()
    bar = Progress("indexing", 200, "sections", stream=term)  # type: ignore[arg-type]
    clock[0] += 10
    bar.update(50, extra="400 chunks")
    assert term.text.endswith(
        "indexing: 50/200 sections (25%), 5.0 sections/s, ETA 30s, 400 chunks"
    )
    assert term.text.startswith("\r\033[K")
    bar.finish()
    assert term.text.endswith("\n")
    # Not a terminal: a plain line at most every interval, and the last one always.
    lines = _Terminal()
    lines.isatty = lambda: False  # type: ignore[method-assign]
    quiet = Progress("copying", 1000, "MB", stream=lines, interval=5)  # type: ignore[arg-type]
    for _ in range(20):
        clock[0] += 1
        quiet.advance(10)
    quiet.finish()
    written = lines.text.splitlines()
    assert len(written) == 5 and written[-1].startswith("copying: 200/1000 MB (20%)")
    assert "\r" not in lines.text
