"""The one place a Spark session is made.

Default: Sail (pysail) started in-process on 127.0.0.1 on a free port, stopped cleanly at exit;
Sail's own settings (``SAIL_MODE=local-cluster`` and the ``SAIL_CLUSTER__*`` options) apply to
it. ``GOVLAKE_SPARK_REMOTE=sc://host:port`` uses an existing Spark Connect server instead (a
``sail spark server``, or in production a Spark 4.2 cluster with delta-spark). Nothing else in
the code may depend on which (tests/integration/test_distributed.py).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

_lock = threading.Lock()
_server = None
_session: SparkSession | None = None


# Sail in a cluster mode (SAIL_MODE=local-cluster or kubernetes-cluster, docs/deploy.md) runs a
# stage's tasks in its workers' task slots; the base stage's widest plan needs over 40 at once,
# more than Sail's default of 8 per worker, so a worker offers 64 unless told otherwise.
CLUSTER_DEFAULTS = {"SAIL_CLUSTER__WORKER_TASK_SLOTS": "64"}


def _start_sail() -> str:
    global _server
    os.environ.setdefault("RUST_LOG", "error")  # Sail logs sessions and shutdown otherwise
    if os.environ.get("SAIL_MODE", "local") != "local":
        for name, value in CLUSTER_DEFAULTS.items():
            os.environ.setdefault(name, value)
    from pysail.spark import SparkConnectServer

    _server = SparkConnectServer(ip="127.0.0.1", port=0)
    _server.start(background=True)
    _, port = _server.listening_address
    log.info("started embedded Sail on 127.0.0.1:%s", port)
    return f"sc://127.0.0.1:{port}"


def get_spark() -> SparkSession:
    """The process's Spark session (created on first use)."""
    global _session
    with _lock:
        if _session is None:
            remote = os.environ.get("GOVLAKE_SPARK_REMOTE") or _start_sail()
            _session = SparkSession.builder.remote(remote).getOrCreate()
            # Timestamps are instants in UTC everywhere (Delta stores UTC); pinning the zone
            # name also keeps Sail from mixing "UTC" and "Etc/UTC" typed columns in unions.
            _session.conf.set("spark.sql.session.timeZone", "UTC")
            # PySpark's call-site capture for error contexts: with it on, every function of
            # pyspark.sql.functions and every Column operator walks the Python stack and tries
            # to import IPython (absent, so the whole import path is searched each time),
            # about 50 µs a call (decision 89). Off, a server error no longer names the Python
            # line behind it. PySpark reads it once per process, at the first such call.
            _session.conf.set("spark.python.sql.dataFrameDebugging.enabled", "false")
            atexit.register(stop)
        return _session


def is_embedded() -> bool:
    """True when the session runs on the in-process Sail server (for diagnostics only)."""
    return _server is not None


def stop() -> None:
    """Stop the session and, if we started it, the embedded server. Safe to call twice."""
    global _session, _server
    with _lock:
        if _session is not None:
            try:
                _session.stop()
            finally:
                _session = None
        if _server is not None:
            try:
                _server.stop()
            finally:
                _server = None
