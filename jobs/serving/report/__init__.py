"""``govlake report``: the quality officer's HTML report, Data Docs and the 整改清单."""
