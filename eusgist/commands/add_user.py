"""``add-user``: add an account (or change its password) in the app's password file."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

from eusgist.errors import EusgistError

NAME = "add-user"
HELP = "Add a login account to a password file (for EUSGIST_AUTH_FILE)."

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The password file and the account name; the password is asked for, or read from
    standard input with ``--password-stdin``."""
    parser.add_argument("name", help="account name (the annotator name it signs in as)")
    parser.add_argument("--file", required=True, help="password file (created if missing)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")


def run(args: argparse.Namespace) -> int:
    """Hash the password and write the account."""
    from eusgist.accounts import add_account

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise EusgistError("the two passwords differ")
    new = add_account(args.file, args.name, password)
    log.info("%s %s in %s", "added" if new else "changed the password of", args.name, args.file)
    return 0
