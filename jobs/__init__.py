"""govlake jobs: the work of the lakehouse (ingestion, base libraries, quality, themes)."""
