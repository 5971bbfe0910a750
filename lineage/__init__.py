"""Lineage: records runs and table edges it is handed. A leaf: imports nothing from jobs/."""
