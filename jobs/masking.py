"""Masking of sensitive values for display (the SQL interface will apply the same by role)."""

from __future__ import annotations


def mask_id(value: str | None) -> str | None:
    """130902********1234: division code and last four kept."""
    if not value or len(value) < 10:
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_name(value: str | None) -> str | None:
    """张*, 欧阳** : the first character kept."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


def mask_text(value: str | None) -> str | None:
    """Addresses and the like: the first six characters kept."""
    if not value or len(value) <= 6:
        return value
    return value[:6] + "*" * min(6, len(value) - 6)


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
