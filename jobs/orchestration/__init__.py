"""Airflow wiring's side of the code: what the DAGs in dags/ call.

The DAG files only declare DAGs and tasks; everything they do is here or deeper in jobs/.
Importing this package (and ``schedule``, ``operators``, ``triggers``) is cheap: no Spark,
pandas, Great Expectations or DuckDB until a task runs (tests/dags checks it).
"""
