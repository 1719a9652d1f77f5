"""Metadata files: documentation for a table loaded from a file that lacks it.

A TOML (or JSON) file of this shape::

    description = "What the table holds, where it comes from, how to cite it"
    schema_description = "What the survey is"   # optional
    ra = "ra"                                    # optional position columns
    dec = "dec"

    [columns.ra]
    unit = "deg"
    ucd = "pos.eq.ra;meta.main"
    description = "Right ascension (ICRS, epoch J2000)"

    [columns.flag]
    principal = false

Column keys: description, unit, ucd, utype, xtype, principal. Anything else is an error,
so a typo does not silently leave a column undocumented.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datalab.errors import UsageError
from datalab.formats import FieldMeta

__all__ = ["MetadataFile", "read_metadata_file"]

_TABLE_KEYS = {"description", "schema_description", "ra", "dec", "columns"}
_COLUMN_KEYS = {"description", "unit", "ucd", "utype", "xtype", "principal"}


@dataclass(frozen=True)
class MetadataFile:
    description: str | None = None
    schema_description: str | None = None
    ra: str | None = None
    dec: str | None = None
    fields: dict[str, FieldMeta] = field(default_factory=dict)
    principal: dict[str, bool] = field(default_factory=dict)


def read_metadata_file(path: Path) -> MetadataFile:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the metadata file {path}: {exc.strerror}") from exc
    try:
        if path.suffix.lower() == ".json":
            data: Any = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid {_kind(path)}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a table of settings at the top level")
    unknown = set(data) - _TABLE_KEYS
    if unknown:
        raise UsageError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    for key in ("description", "schema_description", "ra", "dec"):
        if key in data and not isinstance(data[key], str):
            raise UsageError(f"{path}: {key} must be a string")
    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        raise UsageError(f"{path}: columns must be a table of column names")
    fields: dict[str, FieldMeta] = {}
    principal: dict[str, bool] = {}
    for name, attrs in columns.items():
        if not isinstance(attrs, dict):
            raise UsageError(f"{path}: columns.{name} must be a table")
        bad = set(attrs) - _COLUMN_KEYS
        if bad:
            raise UsageError(f"{path}: columns.{name}: unknown keys {', '.join(sorted(bad))}")
        for key, value in attrs.items():
            expected = bool if key == "principal" else str
            if not isinstance(value, expected):
                raise UsageError(
                    f"{path}: columns.{name}.{key} must be a {expected.__name__}"
                )
        if "principal" in attrs:
            principal[name] = attrs["principal"]
        fields[name] = FieldMeta(
            name=name,
            description=attrs.get("description"),
            unit=attrs.get("unit"),
            ucd=attrs.get("ucd"),
            utype=attrs.get("utype"),
            xtype=attrs.get("xtype"),
        )
    return MetadataFile(
        description=data.get("description"),
        schema_description=data.get("schema_description"),
        ra=data.get("ra"),
        dec=data.get("dec"),
        fields=fields,
        principal=principal,
    )


def _kind(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "TOML"
