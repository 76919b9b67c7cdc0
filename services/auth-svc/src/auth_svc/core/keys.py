"""auth-svc's RS256 key ring: private keys from `AUTH_KEYS_DIR`, generated on first start.

Every `*.pem` file in the folder is a private RSA key. All of them are published in the
JWKS (so tokens signed by a retiring key keep verifying); the file modified last signs.
Rotation: add a new key file and restart; remove the old one once every token it signed
has expired (the access-token lifetime; refresh tokens are re-checked against the JWKS
too, so keep the old key for the refresh lifetime if refresh sessions must survive).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from joserfc.errors import JoseError
from joserfc.jwk import KeyParameters, KeySet, RSAKey

from taskhub_common.auth import ALGORITHM

logger = logging.getLogger(__name__)

GENERATED_KEY_NAME = "signing-key.pem"
MIN_KEY_BITS = 2048
_KEY_PARAMETERS: KeyParameters = {"use": "sig", "alg": ALGORITHM}


class KeyLoadError(RuntimeError):
    """A key file cannot be used; the message names the file, never its content."""


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The loaded keys: `signing_key` signs, every key in `keys` verifies and is published."""

    signing_key: RSAKey
    keys: KeySet

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS document: public members only, with `kid`, `alg` and `use`."""
        return cast(dict[str, Any], self.keys.as_dict(private=False))


def load_key_file(path: Path) -> RSAKey:
    """A private RSA key from a PEM file, its `kid` set to the RFC 7638 thumbprint."""
    try:
        key = RSAKey.import_key(path.read_bytes(), _KEY_PARAMETERS.copy())
    except (OSError, ValueError, TypeError, JoseError) as exc:
        raise KeyLoadError(f"{path.name}: not a readable RSA private key") from exc
    private_key = key.private_key
    if private_key is None:
        raise KeyLoadError(f"{path.name}: a private key is required to sign tokens")
    if private_key.key_size < MIN_KEY_BITS:
        raise KeyLoadError(f"{path.name}: RSA keys need at least {MIN_KEY_BITS} bits")
    if path.stat().st_mode & 0o077:
        logger.warning("signing key file is readable by others", extra={"file": path.name})
    key.ensure_kid()
    return key


def generate_key_file(directory: Path, *, key_size: int) -> Path:
    """Write a new private key as `GENERATED_KEY_NAME` (mode 0600) unless one appeared.

    The key is written to a temporary file and hard-linked into place: the link either
    creates the complete file or fails because another worker got there first, so a
    concurrent reader never sees a half-written key and both workers use the same one.
    """
    key = RSAKey.generate_key(key_size, _KEY_PARAMETERS.copy(), private=True)
    target = directory / GENERATED_KEY_NAME
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".key-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:  # mkstemp creates it with mode 0600
            file.write(key.as_pem(private=True))
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, target)
        logger.info("generated a new signing key", extra={"file": target.name})
    except FileExistsError:
        pass  # another process generated the key at the same moment; it is loaded below
    finally:
        os.unlink(temporary)
    return target


def _key_files(directory: Path) -> list[Path]:
    files = [path for path in directory.glob("*.pem") if path.is_file()]
    # Oldest first, so the last one is the newest; the name breaks mtime ties stably.
    return sorted(files, key=lambda path: (path.stat().st_mtime_ns, path.name))


def load_key_ring(directory: Path, *, key_size: int) -> KeyRing:
    """Load every key in `directory`, creating the folder (0700) and a first key if needed."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = _key_files(directory)
    if not files:
        generate_key_file(directory, key_size=key_size)
        files = _key_files(directory)
    keys: dict[str, RSAKey] = {}
    for path in files:
        key = load_key_file(path)
        assert key.kid is not None  # ensure_kid() set it
        keys.pop(key.kid, None)  # the same key in two files counts once, at its newest place
        keys[key.kid] = key
    ordered = list(keys.values())
    return KeyRing(signing_key=ordered[-1], keys=KeySet(list[Any](ordered)))
