"""Datasets: many symbols and intervals in a resumable, hive-partitioned Parquet dataset.

:func:`download` writes and updates it (locally or on a Dask cluster); :func:`scan` reads it
back as a polars LazyFrame. The dataset opens unchanged in pyarrow, DuckDB and Dask.

Modules: ``layout`` (paths, folder-name encoding), ``manifest`` (what is covered),
``plan`` (what to fetch, which bars are closed), ``writer`` (atomic partition writes),
``polite`` (rate, concurrency, connections, backoff), ``downloader``, ``cluster`` (Dask),
``reader``, ``report``; ``tvframe download`` lives in :mod:`tvframe.cli`.
"""

from tvframe.dataset.downloader import download
from tvframe.dataset.reader import scan
from tvframe.dataset.report import DownloadReport, SeriesResult

__all__ = ["DownloadReport", "SeriesResult", "download", "scan"]
