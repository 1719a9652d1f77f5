"""Column metadata as VOTable FIELDs describe it, shared by readers and writers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["FieldMeta"]


@dataclass(frozen=True)
class FieldMeta:
    """What a file or a catalog knows about one column, beyond its Arrow type.

    ``datatype`` / ``arraysize`` / ``xtype`` use VOTable spellings (VOTable 1.4 §4);
    when ``datatype`` is None it is derived from the Arrow type where needed.
    """

    name: str
    description: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    datatype: str | None = None
    arraysize: str | None = None
    xtype: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def merged(self, other: FieldMeta) -> FieldMeta:
        """This field with every attribute that ``other`` sets taking precedence."""
        changes = {
            k: getattr(other, k)
            for k in ("description", "unit", "ucd", "utype", "datatype", "arraysize", "xtype")
            if getattr(other, k) is not None
        }
        return replace(self, **changes)
