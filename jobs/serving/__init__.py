"""Serving: what people use to read the lake. The command line, analyst SQL (``govlake sql``),
the PostgreSQL-protocol server, the quality report and rectification lists, and the lookups
(show, profile, trace, lineage). All of it masks through ``jobs.platform.policy``.
"""
