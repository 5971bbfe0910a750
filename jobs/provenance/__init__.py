"""Provenance read from the lake: the lineage graph (`govlake lineage`) and value traces (`govlake trace`)."""
