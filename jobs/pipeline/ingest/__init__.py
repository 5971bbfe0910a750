"""Bronze ingestion: landing zone → bronze.<source_id>, quarantine.rows, quarantine.files."""
