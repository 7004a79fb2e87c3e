"""tv.download on a dask.distributed LocalCluster: the same dataset as a local download."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dataset.helpers import DAY, assert_same_dataset, fetches, stray_files
from tvframe.dataset import download
from tvframe.errors import InvalidArgumentError
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import universe

distributed = pytest.importorskip("distributed")

SYMBOLS = [s.full_name for s in universe(16)] + ["NASDAQ:NOPE"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """Two worker processes, one thread each: each batch on its own connection."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


def test_a_cluster_writes_the_same_dataset_as_a_local_run(
    sim: SimHandle, cluster: object, tmp_path: Path
) -> None:
    start = sim.clock.now() - 30 * DAY
    on_cluster, local = tmp_path / "cluster", tmp_path / "local"
    report = download(
        SYMBOLS, ["1d", "4h"], start=start, path=on_cluster, cluster=cluster, batch_size=3,
        errors="ignore", progress=False, rate=None,
    )  # fmt: skip
    assert sim.stats.connections >= 3  # the driver's clock, then one per batch on the workers
    assert list(report.failed) == ["NASDAQ:NOPE 1d", "NASDAQ:NOPE 4h"]
    download(
        SYMBOLS, ["1d", "4h"], start=start, path=local, errors="ignore", progress=False, rate=None
    )
    assert_same_dataset(on_cluster, local)
    assert stray_files(on_cluster) == []
    before = fetches(sim)
    again = download(SYMBOLS[:-1], ["1d", "4h"], path=on_cluster, cluster=cluster, progress=False)
    assert fetches(sim) == before and again.fetched == 0


def test_cluster_arguments_are_checked_before_any_io(cluster: object, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"dask\.distributed\.Client"):
        download(["NASDAQ:AAPL"], "1d", start="2026-10-01", path=tmp_path, cluster="local")
    with pytest.raises(InvalidArgumentError, match="batch_size=0"):
        download(["NASDAQ:AAPL"], "1d", start="2026-10-01", path=tmp_path, cluster=cluster,
                 batch_size=0)  # fmt: skip
    assert not list(tmp_path.iterdir())
