"""Masking of sensitive values for display (reports, profiles).

The SQL interface masks the same way inside DuckDB (jobs/sql/policy.py MASK_MACROS); a test
checks that both give the same result. A value too short to keep a prefix and a suffix is
starred whole, so a malformed identifier is never shown in clear.
"""

from __future__ import annotations


def mask_id(value: str | None) -> str | None:
    """130902********1234: division code and last four kept."""
    if not value:
        return value
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_name(value: str | None) -> str | None:
    """张*, 欧阳** : the first character kept."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


def mask_phone(value: str | None) -> str | None:
    """138****1234: the first three and last four digits kept."""
    if not value:
        return value
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_text(value: str | None) -> str | None:
    """Addresses and the like: the first six characters kept."""
    if not value:
        return value
    if len(value) <= 6:
        return "*" * len(value)
    return value[:6] + "*" * min(6, len(value) - 6)


MASKERS = {"id": mask_id, "name": mask_name, "phone": mask_phone, "text": mask_text}

MASKS = {
    "person_id": mask_id,
    "name": mask_name,
    "legal_rep_name": mask_name,
    "legal_rep_id": mask_id,
    "holder_code": mask_id,
    "holder_name": mask_name,
    "address": mask_text,
    "household_no": mask_text,
}
