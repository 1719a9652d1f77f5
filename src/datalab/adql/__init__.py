"""ADQL 2.1 and Data Lab SQL: parse, check, translate to the engine's SQL.

The compiler is the gatekeeper: no query text reaches the engine; a query is parsed
to a tree (:func:`parse`), checked against an allow-list of constructs and
functions, resolved against the tables the caller may read (:class:`TableCatalog`),
and SQL is generated from the tree (:func:`translate`).
"""

from datalab.adql.errors import ADQLError, ADQLSyntaxError
from datalab.adql.functions import UDF_DESCRIPTIONS
from datalab.adql.gate import Language, Limits, ParsedQuery, parse
from datalab.adql.translate import ResultColumn, TableCatalog, Translation, translate

__all__ = [
    "UDF_DESCRIPTIONS",
    "ADQLError",
    "ADQLSyntaxError",
    "Language",
    "Limits",
    "ParsedQuery",
    "ResultColumn",
    "TableCatalog",
    "Translation",
    "parse",
    "translate",
]
