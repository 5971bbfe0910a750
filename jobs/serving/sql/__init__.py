"""Analyst SQL: read-only DuckDB over curated tables, masked by role, audited (issue 8)."""
