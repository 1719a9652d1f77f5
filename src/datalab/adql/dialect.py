"""ADQL 2.1 as a sqlglot dialect, and the Data Lab SQL dialect beside it.

The dialect only decides how text becomes a tree; what the tree may contain is
decided by :mod:`datalab.adql.gate`. Function calls other than the five aggregates
and CAST are parsed as ``exp.Anonymous`` nodes named in upper case, so that one
table (:mod:`datalab.adql.functions`) says which exist, how many arguments they take
and what they become in the engine's SQL.

Deviations from the BNF of the ADQL 2.1 Recommendation (``adql.bnf``):

* ``CASE WHEN … THEN … [ELSE …] END`` is accepted (a reserved word in ADQL, used by
  many clients and services).
* ``GREATEST`` and ``LEAST`` are accepted as functions; so are the user-defined
  functions declared in the service's capabilities (``ivo_*``).
* A single trailing semicolon is ignored.
* ``a % b`` is read as ``MOD(a, b)``: the grammar has no such operator, but the
  Recommendation's own examples (§4.5) use it, and so do users.
* ``LIMIT`` is refused with a hint to use ``TOP``; ``::`` casts, ``/* */`` comments,
  boolean literals and PostgreSQL operators are not ADQL and are refused as syntax
  errors.
* The coordinate-system argument of the geometry constructors may be omitted (as
  ADQL 2.1 allows) and, when given, must be empty or name ICRS: every position in the
  catalogs is ICRS, and silently treating GALACTIC coordinates as ICRS would give
  wrong answers.

Data Lab SQL is PostgreSQL's grammar (sqlglot's ``postgres`` dialect), as Data Lab
users write it with ``sql=``: LIMIT/OFFSET, ``::`` casts and the q3c functions.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlglot import exp, generator, parser, tokens
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy
from sqlglot.dialects.postgres import Postgres
from sqlglot.tokens import TokenType

__all__ = ["ADQL", "DataLabSQL"]

_AGGREGATES = ("COUNT", "AVG", "MIN", "MAX", "SUM")


class ADQL(Dialect):
    """ADQL 2.0 and 2.1: regular identifiers fold to lower case, delimited ones are exact."""

    NORMALIZATION_STRATEGY = NormalizationStrategy.LOWERCASE

    class Tokenizer(tokens.Tokenizer):
        QUOTES: ClassVar = ["'"]
        IDENTIFIERS: ClassVar = ['"']
        STRING_ESCAPES: ClassVar = ["'"]
        HEX_STRINGS: ClassVar = [("0x", ""), ("0X", "")]
        COMMENTS: ClassVar = ["--"]
        KEYWORDS: ClassVar = {
            **{
                key: value
                for key, value in tokens.Tokenizer.KEYWORDS.items()
                # PostgreSQL-only operators and block-comment hints are not ADQL.
                if key not in {"::", "->", "->>", "#>", "#>>", "?", "/*+", "<=>", "=="}
            },
            "TOP": TokenType.TOP,
        }

    class Parser(parser.Parser):
        FUNCTIONS: ClassVar = {
            name: builder
            for name, builder in parser.Parser.FUNCTIONS.items()
            if name in _AGGREGATES
        }
        FUNCTION_PARSERS: ClassVar = {"CAST": parser.Parser.FUNCTION_PARSERS["CAST"]}
        NO_PAREN_FUNCTIONS: ClassVar = {}
        NO_PAREN_FUNCTION_PARSERS: ClassVar = {
            "CASE": parser.Parser.NO_PAREN_FUNCTION_PARSERS["CASE"],
        }
        COLUMN_OPERATORS: ClassVar = {TokenType.DOT: None}
        JSON_OPERATORS: ClassVar = {}

        def _parse_projections(self) -> tuple[list[exp.Expr], list[exp.Expr] | None]:
            # sqlglot forgives a trailing comma before FROM; ADQL does not.
            items = [self._parse_expression()]
            while self._match(TokenType.COMMA):
                items.append(self._parse_expression())
            if any(item is None for item in items):
                self.raise_error("expected a column or an expression in the select list")
            return [item for item in items if item is not None], None

        def _parse_limit(
            self,
            this: exp.Expr | None = None,
            top: bool = False,
            skip_limit_token: bool = False,
        ) -> exp.Expr | None:
            if (
                not top
                and self._curr
                and self._curr.token_type
                in (
                    TokenType.LIMIT,
                    TokenType.FETCH,
                )
            ):
                self.raise_error(
                    f"{self._curr.text.upper()} is not ADQL; write SELECT TOP n … instead"
                )
            limit = super()._parse_limit(this, top=top, skip_limit_token=skip_limit_token)
            return limit

    class Generator(generator.Generator):
        """Prints trees back as ADQL (used by tests and for normalised query text)."""

        TRANSFORMS: ClassVar = {**generator.Generator.TRANSFORMS}
        LIMIT_IS_TOP = True

        def hexstring_sql(self, expression: exp.HexString, **_: Any) -> str:
            return f"0x{expression.this}"


class DataLabSQL(Postgres):
    """PostgreSQL-flavoured SELECT as Data Lab users write it in ``sql=`` queries."""

    class Parser(Postgres.Parser):
        FUNCTIONS: ClassVar = {
            name: builder
            for name, builder in Postgres.Parser.FUNCTIONS.items()
            if name in _AGGREGATES
        }
        FUNCTION_PARSERS: ClassVar = {"CAST": parser.Parser.FUNCTION_PARSERS["CAST"]}
        NO_PAREN_FUNCTIONS: ClassVar = {}
        NO_PAREN_FUNCTION_PARSERS: ClassVar = {
            "CASE": parser.Parser.NO_PAREN_FUNCTION_PARSERS["CASE"],
        }
        COLUMN_OPERATORS: ClassVar = {
            TokenType.DOT: None,
            TokenType.DCOLON: parser.Parser.COLUMN_OPERATORS[TokenType.DCOLON],
        }
        JSON_OPERATORS: ClassVar = {}
