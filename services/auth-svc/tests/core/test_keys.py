"""Signing keys on disk: first-start generation, loading, rotation, refusal of bad files."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey

from auth_svc.core.keys import (
    GENERATED_KEY_NAME,
    KeyLoadError,
    load_key_file,
    load_key_ring,
)

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth"}


def write_key(path: Path, key: RSAKey, *, mtime: float | None = None) -> None:
    path.write_bytes(key.as_pem(private=True))
    path.chmod(0o600)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def test_first_start_creates_a_private_folder_and_key(tmp_path: Path) -> None:
    directory = tmp_path / "nested" / "keys"

    ring = load_key_ring(directory, key_size=2048)

    key_file = directory / GENERATED_KEY_NAME
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ring.signing_key.private_key is not None
    assert ring.signing_key.private_key.key_size == 2048
    assert ring.signing_key.kid == ring.signing_key.thumbprint()  # RFC 7638
    assert sorted(path.name for path in directory.iterdir()) == [GENERATED_KEY_NAME]


def test_a_restart_reuses_the_generated_key(tmp_path: Path) -> None:
    first = load_key_ring(tmp_path, key_size=2048)
    second = load_key_ring(tmp_path, key_size=2048)
    assert first.signing_key.kid == second.signing_key.kid


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    barrier = threading.Barrier(3)
    kids: list[str | None] = []

    def start_worker() -> None:
        barrier.wait()
        kids.append(load_key_ring(tmp_path, key_size=2048).signing_key.kid)

    workers = [threading.Thread(target=start_worker) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(kids) == 3
    assert len(set(kids)) == 1
    # No temporary files are left behind by the losers of the race.
    assert [path.name for path in tmp_path.iterdir()] == [GENERATED_KEY_NAME]


def test_every_key_is_published_and_the_newest_signs(tmp_path: Path) -> None:
    old, new = RSAKey.generate_key(2048), RSAKey.generate_key(2048)
    now = time.time()
    # Names sort the other way round, so only the modification time can pick the signer.
    write_key(tmp_path / "b-old.pem", old, mtime=now - 3600)
    write_key(tmp_path / "a-new.pem", new, mtime=now)

    ring = load_key_ring(tmp_path, key_size=2048)

    assert ring.signing_key.thumbprint() == new.thumbprint()
    jwks = ring.public_jwks()
    assert {key["kid"] for key in jwks["keys"]} == {old.thumbprint(), new.thumbprint()}
    for key in jwks["keys"]:
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert not PRIVATE_MEMBERS & key.keys()


def test_the_same_key_in_two_files_is_published_once(tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048)
    write_key(tmp_path / "one.pem", key)
    write_key(tmp_path / "copy.pem", key)

    ring = load_key_ring(tmp_path, key_size=2048)

    assert len(ring.public_jwks()["keys"]) == 1


def small_key_pem() -> bytes:
    with warnings.catch_warnings():  # joserfc warns about small keys; refusing them is the point
        warnings.simplefilter("ignore")
        return RSAKey.generate_key(1024).as_pem(private=True)


@pytest.mark.parametrize(
    ("make_content", "reason"),
    [
        (lambda: b"not a key", "not a readable RSA private key"),
        (lambda: RSAKey.generate_key(2048).as_pem(private=False), "a private key is required"),
        (small_key_pem, "at least 2048 bits"),
    ],
    ids=["garbage", "public-only", "too-small"],
)
@pytest.mark.filterwarnings("ignore:Key size should be")
def test_unusable_key_files_are_refused_by_name(
    tmp_path: Path, make_content: Callable[[], bytes], reason: str
) -> None:
    content = make_content()
    path = tmp_path / "bad.pem"
    path.write_bytes(content)

    with pytest.raises(KeyLoadError, match=reason) as raised:
        load_key_file(path)

    assert "bad.pem" in str(raised.value)
    assert "BEGIN" not in str(raised.value)


def test_a_key_file_readable_by_others_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "loose.pem"
    write_key(path, RSAKey.generate_key(2048))
    path.chmod(0o644)

    with caplog.at_level(logging.WARNING, logger="auth_svc.core.keys"):
        load_key_file(path)

    assert "readable by others" in caplog.text
    assert "PRIVATE KEY" not in caplog.text
