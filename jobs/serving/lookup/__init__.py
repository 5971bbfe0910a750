"""Lookups of one thing: a record (show), a profile, a value's trace, a table's lineage."""
