"""``appliance release keygen|sign|verify`` on a small synthetic release folder (a real
release is built by ``make release``; too slow for the suite)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.release import PUBLIC_KEY_FILE, SUMS


@pytest.fixture
def signed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, Path]:
    """A release folder signed by a fresh vendor key: (folder, 'kid:b64' line, key dir)."""
    keys = tmp_path / "vendor"
    assert main(["release", "keygen", "--out", str(keys), "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)["public_entry"]
    folder = tmp_path / "release-1.0"
    (folder / "wheelhouse").mkdir(parents=True)
    (folder / "appliance-1.0-linux-x86_64.tar.gz").write_bytes(b"\x1f\x8b onedir bundle" * 100)
    (folder / "appliance-1.0-linux-x86_64").write_bytes(b"\x7fELF onefile" * 100)
    (folder / "wheelhouse" / "appliance-1.0.tar.gz").write_bytes(b"source")
    (folder / "wheelhouse" / "numpy-2.0-cp311-manylinux.whl").write_bytes(b"wheel")
    pem = keys / "release_signing_key.pem"
    assert main(["release", "sign", str(folder), "--private-key", str(pem)]) == 0
    assert "4 files" in capsys.readouterr().out
    return folder, entry, keys


def verify(
    capsys: pytest.CaptureFixture[str], folder: Path, key: str
) -> tuple[int, dict[str, object]]:
    code = main(["release", "verify", str(folder), "--public-key", key, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_signed_release_verifies(
    signed: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, entry, keys = signed
    code, report = verify(capsys, folder, entry)
    assert code == 0 and report["verified"] is True and len(report["files_ok"]) == 4  # type: ignore[arg-type]
    # The key file itself works too, and the text report says what it checked.
    assert (
        main(["release", "verify", str(folder), "--public-key", str(keys / PUBLIC_KEY_FILE)]) == 0
    )
    out = capsys.readouterr().out
    assert "OK        wheelhouse/numpy-2.0-cp311-manylinux.whl" in out and "verified:" in out
    # SHA256SUMS is in sha256sum's own format.
    if shutil.which("sha256sum"):
        check = subprocess.run(
            ["sha256sum", "-c", SUMS], cwd=folder, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("attack", ["tampered", "missing", "unlisted", "resummed", "other key"])
def test_a_changed_release_does_not_verify(
    signed: tuple[Path, str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    attack: str,
) -> None:
    folder, entry, _ = signed
    wheel = folder / "wheelhouse" / "numpy-2.0-cp311-manylinux.whl"
    if attack == "tampered":
        wheel.write_bytes(b"evil wheel")
    elif attack == "missing":
        wheel.unlink()
    elif attack == "unlisted":  # pip --find-links would happily install it
        (folder / "wheelhouse" / "backdoor-1.0-py3-none-any.whl").write_bytes(b"x")
    elif attack == "resummed":  # files changed and SHA256SUMS rewritten, without the key
        wheel.write_bytes(b"evil wheel")
        from appliance.release import write_sums

        write_sums(folder)
    else:
        assert main(["release", "keygen", "--out", str(tmp_path / "mallory"), "--json"]) == 0
        entry = json.loads(capsys.readouterr().out)["public_entry"]
    code, report = verify(capsys, folder, entry)
    assert code == 1 and report["verified"] is False
    expected = {
        "tampered": ("mismatched", ["wheelhouse/numpy-2.0-cp311-manylinux.whl"]),
        "missing": ("missing", ["wheelhouse/numpy-2.0-cp311-manylinux.whl"]),
        "unlisted": ("unlisted", ["wheelhouse/backdoor-1.0-py3-none-any.whl"]),
        "resummed": ("signature_ok", False),
        "other key": ("signature_ok", False),
    }[attack]
    assert report[expected[0]] == expected[1]
    assert main(["release", "verify", str(folder), "--public-key", entry]) == 1
    assert "NOT verified" in capsys.readouterr().out


def test_bad_keys_and_folders_are_usage_errors(
    signed: tuple[Path, str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, entry, _ = signed
    _kid, b64 = entry.split(":")
    assert main(["release", "verify", str(folder), "--public-key", f"0000000000000000:{b64}"]) == 2
    assert "does not match" in capsys.readouterr().err
    assert main(["release", "verify", str(folder), "--public-key", "not a key"]) == 2
    assert main(["release", "verify", str(folder), "--public-key", b64]) == 0  # bare key
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    code, report = verify(capsys, empty, entry)
    assert code == 1 and "not a release folder" in str(report["problems"])
