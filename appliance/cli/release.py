"""``appliance release keygen|sign|verify``: signed release folders (no data dir needed).

``keygen`` and ``sign`` run at the vendor (``make release`` calls ``sign``); ``verify`` runs
where the release is installed, with the vendor's public key obtained separately.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from appliance import release
from appliance.billing.licenses import keygen, load_private_key
from appliance.cli.common import EXIT_FAILED, emit_json
from appliance.errors import InvalidPayload


def register(sub: Any) -> None:
    rel = sub.add_parser("release", help="sign and verify release folders (SHA256SUMS)")
    rel_sub = rel.add_subparsers(dest="release_command", required=True)
    kg = rel_sub.add_parser("keygen", help="vendor: create the Ed25519 release signing key pair")
    kg.add_argument("--out", required=True, help="directory for the key files")
    kg.add_argument("--json", action="store_true", help="print one JSON object")
    kg.set_defaults(func=keygen_command)
    sg = rel_sub.add_parser("sign", help="vendor: write SHA256SUMS and SHA256SUMS.sig for DIR")
    sg.add_argument("dir", metavar="DIR")
    sg.add_argument("--private-key", required=True, help="the PEM file from release keygen")
    sg.set_defaults(func=sign_command)
    vf = rel_sub.add_parser(
        "verify",
        help="check DIR's signature and every file's checksum",
        description="Exit 0 only if SHA256SUMS.sig is the signature of SHA256SUMS by the given "
        "key, every listed file matches its SHA-256, and no unlisted file is present.",
    )
    vf.add_argument("dir", metavar="DIR")
    vf.add_argument(
        "--public-key",
        required=True,
        metavar="K",
        help="the vendor's 'kid:base64' line (release_public_key.txt), or a file holding it",
    )
    vf.add_argument("--json", action="store_true", help="print one JSON object")
    vf.set_defaults(func=verify_command)


def keygen_command(args: argparse.Namespace) -> int:
    files = keygen(Path(args.out), release.PRIVATE_KEY_FILE, release.PUBLIC_KEY_FILE)
    if args.json:
        emit_json(files.public())
        return 0
    print(
        f"private key (keep it secret, off the release machine's shared disks): {files.private_key}"
    )
    print(f"public key (publish it apart from the releases): {files.public_entry}")
    return 0


def sign_command(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise InvalidPayload(f"{folder} is not a directory")
    try:
        key = load_private_key(Path(args.private_key))
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidPayload(f"cannot use {args.private_key} as a signing key: {exc}") from None
    sums = release.write_sums(folder)
    sig = release.sign(folder, key)
    count = len(sums.read_text(encoding="utf-8").splitlines())
    print(f"wrote {sums} ({count} files) and {sig}")
    return 0


def verify_command(args: argparse.Namespace) -> int:
    key = release.load_public_key(args.public_key)
    report = release.verify(Path(args.dir), key)
    if args.json:
        emit_json(report.public())
        return 0 if report.passed else EXIT_FAILED
    for name in report.ok:
        print(f"OK        {name}")
    for label, names in (
        ("MISMATCH", report.mismatched),
        ("MISSING", report.missing),
        ("UNLISTED", report.unlisted),
    ):
        for name in names:
            print(f"{label:9s} {name}")
    for problem in report.problems:
        print(f"FAILED    {problem}")
    if report.passed:
        print(f"verified: signature by key {report.key_id}; {len(report.ok)} files match")
        return 0
    print("NOT verified: do not install from this folder")
    return EXIT_FAILED
