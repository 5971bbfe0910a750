"""``govlake serve sql``: the lake over the PostgreSQL wire protocol (docs/sql.md).

users.py    the users file (name, role, division, SCRAM-SHA-256 verifier), written atomically
scram.py    the server side of the SCRAM-SHA-256 exchange over a stored verifier
types.py    Arrow types as PostgreSQL type OIDs, values in text and binary format
catalog.py  the per-session catalogue (pg_catalog, information_schema) of the user's tables
logins.py   audit.logins: every login attempt, accepted or refused
pgwire.py   the protocol: startup, TLS, authentication, simple and extended queries, cancel
cli.py      ``govlake users …`` and ``govlake serve sql``
"""
