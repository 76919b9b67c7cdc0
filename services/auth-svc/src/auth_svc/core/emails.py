"""The one spelling of an e-mail address under which accounts are stored and looked up."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email


def canonical_email(address: str) -> str:
    """Registration, login and the admin bootstrap all go through here, so an address
    typed in another Unicode form (NFD vs NFC), case or surrounding blanks finds its account.

    A valid address takes email-validator's normalisation (the one `EmailStr` applies at
    registration: NFC, IDNA-mapped domain); anything else (login accepts any string) is
    only trimmed and composed. Lower-casing last, then composing again, keeps the result
    stable when lower-casing decomposes a character (`İ`).
    """
    try:
        address = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        address = unicodedata.normalize("NFC", address.strip())
    return unicodedata.normalize("NFC", address.lower())
