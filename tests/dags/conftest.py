"""Airflow reads AIRFLOW_HOME when first imported: give the tests that import it in this
process a throwaway one (the DagBag and dag.test tests run Airflow in their own processes)."""

import os
import tempfile

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="govlake-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
