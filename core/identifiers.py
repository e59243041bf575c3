"""Validation of identifiers that come from configuration before they reach SQL."""

from __future__ import annotations

import re

IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InvalidIdentifierError(ValueError):
    """An identifier from configuration is not a plain SQL identifier."""


def validate_identifier(value: str, *, field: str) -> str:
    """Return `value` if it is a plain identifier, else raise with the field's name."""
    if not isinstance(value, str) or not IDENTIFIER_PATTERN.fullmatch(value):
        raise InvalidIdentifierError(
            f"{field}: {value!r} is not a valid identifier; "
            "expected letters, digits and '_' only, not starting with a digit "
            "(pattern [A-Za-z_][A-Za-z0-9_]*)"
        )
    return value


def quote_identifier(value: str, *, field: str = "identifier") -> str:
    """`value` validated and back-quoted for ClickHouse SQL."""
    return f"`{validate_identifier(value, field=field)}`"
