"""The pipeline: the stages ``govlake run`` walks for each business date, in order.

``ingest`` (bronze) → ``base`` (基础库, silver) → ``quality`` (多源校核) → ``themes`` (主题库,
gold) → ``scores`` (the gold suites and the date's scores) → ``catalog`` (政务数据目录).
Each stage owns its tables: no stage writes another's. Each is pure transforms (DataFrames in,
a DataFrame out) and a thin ``run`` that reads, calls them and writes through the lake.
"""
