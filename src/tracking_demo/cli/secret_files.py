"""Secrets read from a file (`--admin-password-file`, `--key-file`) rather than the command line,
which `ps` and /proc/PID/cmdline show to every user of the machine.

A file holds one line: UTF-8, its line ending dropped, spaces kept (they may be part of it).
"""

from __future__ import annotations

from pathlib import Path

from tracking_demo.errors import ConfigError


def secret_from_bytes(raw: bytes, source: str) -> str:
    """The secret `raw` holds, or a ConfigError naming `source` and what was expected."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{source}: expected UTF-8 text, found other bytes") from error
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if any(character in text for character in "\r\n\x00"):
        raise ConfigError(f"{source}: expected one line, found several")
    if not text.strip():
        raise ConfigError(f"{source}: expected a secret, the file is empty")
    return text


def read_secret_file(path: Path, option: str) -> str:
    """The secret of the file named by `option` (e.g. `--key-file`)."""
    source = f"{option} {path}"
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{source}: cannot be read ({error.strerror or error})") from error
    return secret_from_bytes(raw, source)
