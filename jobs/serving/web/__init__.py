"""The quality officers' workbench, served over HTTP (``govlake serve web``)."""
