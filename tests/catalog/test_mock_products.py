"""The synthetic survey's tables reach the catalog and files: `datalab mock`, load_mock."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from click.testing import CliRunner

from datalab.catalog import HEALPIX_COLUMN, CatalogStore
from datalab.catalog.demo import load_mock
from datalab.catalog.mock import PRODUCTS, generate_product, injected_rows
from datalab.catalog.mock_files import write_mock_file
from datalab.cli import cli
from datalab.errors import UsageError

ROWS = 4000


def test_load_mock_loads_every_table_sorted_documented_and_keyed(tmp_path: Path) -> None:
    with CatalogStore.open(tmp_path / "catalog.duckdb") as store:
        infos = {info.name: info for info in load_mock(store, ROWS)}
        assert list(infos) == list(PRODUCTS)
        assert infos["tractor"].nrows == infos["truth_objects"].nrows == ROWS + injected_rows()
        for name, info in infos.items():
            spec = PRODUCTS[name]
            assert "synthetic" in (info.description or "").lower()
            assert (info.ra_column, info.dec_column) == (spec.ra, spec.dec)
            assert all(c.description for c in info.columns), name
            if spec.ra:
                unsorted = store.con.execute(
                    f"SELECT count(*) FROM (SELECT {HEALPIX_COLUMN} - lag({HEALPIX_COLUMN}) "
                    f"OVER () AS d FROM ls_mock.{name}) WHERE d < 0"
                ).fetchall()[0][0]
                assert unsorted == 0, name
        keyed = {
            k.from_table for t in store.tables() for k in t.foreign_keys if t.schema == "ls_mock"
        }
        assert keyed == {"ls_mock.measurements", "ls_mock.truth_objects", "ls_mock.truth_rrlyrae"}
        # The catalog's light curves are the generator's, row for row.
        expected = pa.Table.from_batches(list(generate_product("measurements", ROWS, inject=True)))
        stored = store.con.sql(
            "SELECT * EXCLUDE (_healpix_29) FROM ls_mock.measurements ORDER BY objid, mjd"
        ).to_arrow_table()
        assert stored.num_rows == expected.num_rows
        assert stored["mjd"].to_pylist() == expected["mjd"].to_pylist()


@pytest.mark.parametrize("ext", ["parquet", "csv", "fits"])
def test_every_product_writes_to_files(tmp_path: Path, ext: str) -> None:
    for name in PRODUCTS:
        path = tmp_path / f"{name}.{ext}"
        written = write_mock_file(path, ROWS, product=name, inject=True)
        expected = sum(b.num_rows for b in generate_product(name, ROWS, inject=True))
        assert written == expected > 0, name
        if ext == "parquet":
            table = pq.read_table(path)
            assert table.num_rows == written
            assert b"synthetic" in table.schema.metadata[b"description"].lower()
        elif ext == "csv":
            schema = PRODUCTS[name].schema
            options = pacsv.ConvertOptions(column_types=schema)
            assert pacsv.read_csv(path, convert_options=options).num_rows == written
        else:
            with fits.open(path) as hdus:
                header = hdus[1].header
                assert header["EXTNAME"] == name.upper() and header["NAXIS2"] == written
    with pytest.raises(UsageError):
        write_mock_file(tmp_path / "x.parquet", 10, product="nope")


def test_datalab_mock_makes_any_table(tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path / "home")
    # The default is the tractor table alone, field rows only, as it always was.
    result = runner.invoke(cli, ["mock", "--rows", "3000", "--data-dir", home])
    assert result.exit_code == 0, result.output
    assert "ls_mock.tractor: 3,000 synthetic rows" in result.output
    result = runner.invoke(
        cli, ["mock", "--rows", "3000", "--product", "all", "--inject", "--data-dir", home]
    )
    assert isinstance(result.exception, UsageError)  # the tractor table exists
    result = runner.invoke(
        cli,
        ["mock", "--rows", "3000", "--product", "all", "--inject", "--replace", "--data-dir", home],
    )
    assert result.exit_code == 0, result.output
    total = 3000 + injected_rows()
    assert f"ls_mock.tractor: {total:,} synthetic rows" in result.output
    assert "ls_mock.truth_dwarfs: 4 synthetic rows" in result.output
    result = runner.invoke(
        cli,
        ["mock", "--rows", "500", "--product", "truth_rrlyrae", "--inject", "--table",
         "mine.rr", "--data-dir", home],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with CatalogStore.open(Path(home) / "catalog.duckdb", read_only=True) as store:
        assert store.table("ls_mock.tractor").nrows == total
        assert store.table("mine.rr").nrows > 100
        assert store.table("ls_mock.measurements").nrows > 0
    target = tmp_path / "lc.parquet"
    result = runner.invoke(
        cli, ["mock", "--rows", "2000", "--product", "measurements", "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert pq.read_metadata(target).num_rows > 0
    for bad in (["--product", "nope"], ["--product", "all", "--table", "a.b"]):
        result = runner.invoke(cli, ["mock", "--rows", "10", *bad, "--data-dir", home])
        assert isinstance(result.exception, UsageError), bad
