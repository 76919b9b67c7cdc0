"""The canonical spelling of e-mail addresses shared by registration, login and bootstrap."""

from __future__ import annotations

import unicodedata

import pytest

from auth_svc.core.emails import canonical_email

NFC = "José@Exämple.com"


@pytest.mark.parametrize(
    "spelling",
    [NFC, unicodedata.normalize("NFD", NFC), f"  {NFC.upper()}\t", NFC.lower()],
    ids=["nfc", "nfd", "upper-with-blanks", "lower"],
)
def test_every_spelling_of_an_address_has_one_canonical_form(spelling: str) -> None:
    assert canonical_email(spelling) == "josé@exämple.com"


@pytest.mark.parametrize(
    "spelling", ["not an address", " Zoë@Example.TEST ", unicodedata.normalize("NFD", "Zoë@x")]
)
def test_strings_that_are_no_address_are_trimmed_composed_and_lower_cased(spelling: str) -> None:
    canonical = canonical_email(spelling)
    assert canonical == unicodedata.normalize("NFC", spelling.strip()).lower()
    assert canonical == canonical_email(canonical)


def test_lower_casing_that_decomposes_is_composed_again() -> None:
    canonical = canonical_email("İpek@example.com")
    assert canonical == unicodedata.normalize("NFC", canonical)
    assert canonical == canonical_email(canonical)
