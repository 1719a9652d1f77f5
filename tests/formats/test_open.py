"""open_table: the format from the name, else the first bytes; errors name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalab.errors import IngestError
from datalab.formats import FitsTableWriter, TableReader, guess_format, open_table

VOTABLE = """<?xml version="1.0"?>
<VOTABLE version="1.4"><RESOURCE><TABLE><FIELD name="a" datatype="int"/>
<DATA><TABLEDATA><TR><TD>1</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>
"""


def write_all(directory: Path, stem: str) -> dict[str, Path]:
    paths = {}
    paths["csv"] = directory / f"{stem}.csv"
    paths["csv"].write_text("a,b\n1,2\n")
    paths["tsv"] = directory / f"{stem}.tsv"
    paths["tsv"].write_text("a\tb\n1\t2\n")
    paths["parquet"] = directory / f"{stem}.parquet"
    pq.write_table(pa.table({"a": [1]}), paths["parquet"])
    paths["fits"] = directory / f"{stem}.fits"
    with FitsTableWriter(paths["fits"], pa.schema([("a", pa.int64())])) as w:
        w.write_batch(pa.record_batch({"a": np.array([1])}))
    paths["votable"] = directory / f"{stem}.vot"
    paths["votable"].write_text(VOTABLE)
    return paths


def test_format_from_extension_and_from_content(tmp_path: Path) -> None:
    for fmt, path in write_all(tmp_path, "t").items():
        assert guess_format(path) == fmt
        anonymous = path.with_name(f"{fmt}-data.dat")
        anonymous.write_bytes(path.read_bytes())
        assert guess_format(anonymous) == fmt, fmt
        with open_table(anonymous) as reader:
            assert isinstance(reader, TableReader) and reader.format == fmt
            assert sum(b.num_rows for b in reader.batches(10)) == 1


def test_other_extensions(tmp_path: Path) -> None:
    for name, fmt in [
        ("a.fit", "fits"),
        ("a.FTS", "fits"),
        ("a.pq", "parquet"),
        ("a.xml", "votable"),
        ("a.votable", "votable"),
        ("a.fits.gz", "fits"),
    ]:
        assert guess_format(tmp_path / name) == fmt


def test_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some words\n")
    with pytest.raises(IngestError) as info:
        open_table(path)
    assert str(path) in str(info.value) and "format" in str(info.value)
    with pytest.raises(IngestError, match="unknown format"):
        open_table(path, "xlsx")


def test_missing_file_and_wrong_format(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        open_table(tmp_path / "nothing.csv")
    paths = write_all(tmp_path, "t")
    with pytest.raises(IngestError, match="not a FITS file"):
        open_table(paths["csv"], "fits")
    with pytest.raises(IngestError, match="not a VOTable"):
        open_table(paths["fits"], "votable")
    with pytest.raises(IngestError, match="HDU"):
        open_table(paths["csv"], hdu=1)


def test_iterating_twice_is_refused(tmp_path: Path) -> None:
    path = write_all(tmp_path, "t")["csv"]
    with open_table(path) as reader:
        list(reader.batches(5))
        with pytest.raises(Exception, match="only once"):
            list(reader.batches(5))
