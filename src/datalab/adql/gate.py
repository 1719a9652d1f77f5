"""The first gate: text to tree, and nothing in the tree that we did not allow.

Parsing is done by sqlglot with the dialects of :mod:`datalab.adql.dialect`; this
module turns its errors into :class:`ADQLSyntaxError` with a line, a column and the
offending token, and then walks the tree refusing every node type, function, cast
target and size that is not on the lists below. It is an allow-list on purpose: a
construct sqlglot learns in a later release stays refused until it is added here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from datalab.adql import functions
from datalab.adql.dialect import ADQL, DataLabSQL
from datalab.adql.errors import ADQLError, ADQLSyntaxError

__all__ = ["Language", "Limits", "ParsedQuery", "parse", "position_of"]

Language = Literal["ADQL", "SQL"]


@dataclass(frozen=True)
class Limits:
    """Sizes beyond which a query is refused before it costs anything."""

    max_length: int = 200_000
    max_depth: int = 120
    max_in_list: int = 10_000
    max_literal: int = 65_536


@dataclass
class ParsedQuery:
    """A query that passed the gate: its tree, its language and its original text."""

    tree: exp.Query
    language: Language
    text: str


_COMMON_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Select,
        exp.Union,
        exp.Except,
        exp.Intersect,
        exp.With,
        exp.CTE,
        exp.Subquery,
        exp.From,
        exp.Join,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Distinct,
        exp.Table,
        exp.TableAlias,
        exp.Alias,
        exp.Column,
        exp.Identifier,
        exp.Star,
        exp.Literal,
        exp.Null,
        exp.HexString,
        exp.Paren,
        exp.Neg,
        exp.Mod,
        exp.DataTypeParam,
        exp.Not,
        exp.And,
        exp.Or,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.DPipe,
        exp.Like,
        exp.ILike,
        exp.Between,
        exp.In,
        exp.Is,
        exp.Exists,
        exp.BitwiseAnd,
        exp.BitwiseOr,
        exp.BitwiseXor,
        exp.BitwiseNot,
        exp.Case,
        exp.If,
        exp.Cast,
        exp.DataType,
        exp.Count,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.Sum,
        exp.Anonymous,
        exp.Tuple,
    }
)
_SQL_ONLY_NODES: frozenset[type[exp.Expr]] = frozenset({exp.Boolean, exp.Array})

_ALLOWED_NODES = {
    "ADQL": _COMMON_NODES,
    "SQL": _COMMON_NODES | _SQL_ONLY_NODES,
}

_CAST_TARGETS = {
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.CHAR,
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.TEXT,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.BOOLEAN,
    exp.DataType.Type.DECIMAL,
}

# For nodes that carry options sqlglot knows from other dialects (DISTINCT ON, GROUP BY
# ROLLUP, SELECT … INTO, table hints…): the only arguments they may have.
_ARGS: dict[type[exp.Expr], set[str]] = {
    exp.Select: {
        "with_",
        "expressions",
        "distinct",
        "from_",
        "joins",
        "where",
        "group",
        "having",
        "order",
        "limit",
        "offset",
    },
    exp.Table: {"this", "alias", "db", "catalog"},
    exp.Join: {"this", "on", "side", "kind", "using", "method"},
    exp.Distinct: {"expressions"},
    exp.Group: {"expressions"},
    exp.Order: {"expressions"},
    exp.Ordered: {"this", "desc", "nulls_first"},
    exp.Column: {"this", "table", "db"},
    exp.Limit: {"expression"},
    exp.Offset: {"expression"},
    exp.With: {"expressions"},
    exp.CTE: {"this", "alias"},
    exp.TableAlias: {"this"},
    exp.Union: {"this", "expression", "distinct", "with_", "order", "limit", "offset"},
    exp.Except: {"this", "expression", "distinct", "with_", "order", "limit", "offset"},
    exp.Intersect: {"this", "expression", "distinct", "with_", "order", "limit", "offset"},
}

_DIALECTS: dict[Language, type[Dialect]] = {"ADQL": ADQL, "SQL": DataLabSQL}

_WHAT = {
    exp.Boolean: "boolean literals are",
    exp.Window: "window functions (OVER …) are",
    exp.Values: "VALUES lists are",
    exp.Lateral: "LATERAL is",
    exp.Pivot: "PIVOT is",
    exp.TableSample: "TABLESAMPLE is",
    exp.Array: "arrays are",
    exp.Placeholder: "parameters are",
    exp.Parameter: "parameters are",
    exp.Qualify: "QUALIFY is",
}

_INCOMPLETE = {
    "where": "WHERE clause",
    "having": "HAVING clause",
    "join": "join",
    "from": "FROM clause",
    "select": "SELECT",
    "eq": "comparison",
    "neq": "comparison",
    "gt": "comparison",
    "gte": "comparison",
    "lt": "comparison",
    "lte": "comparison",
    "and": "AND",
    "or": "OR",
    "in": "IN list",
    "between": "BETWEEN",
    "like": "LIKE",
    "cast": "CAST",
}

_NICE_SYNTAX = [
    (re.compile(r"Required keyword: '\w+' missing for .*\.(\w+)'>"), "incomplete {0}"),
    (re.compile(r"Invalid expression / Unexpected token"), "unexpected token"),
    (re.compile(r"Expecting \)"), "a ')' is missing"),
    (re.compile(r"Expected table name but got (.*)"), "expected a table name"),
]


def parse(text: str, language: Language = "ADQL", *, limits: Limits | None = None) -> ParsedQuery:
    """Parse one SELECT (or WITH … SELECT) and refuse anything the service does not allow."""
    limits = limits or Limits()
    if not isinstance(text, str):
        raise ADQLSyntaxError("the query must be text")
    if len(text) > limits.max_length:
        raise ADQLSyntaxError(
            f"the query is {len(text):,} characters long; the limit is {limits.max_length:,}"
        )
    if "\x00" in text:
        raise ADQLSyntaxError("the query contains a NUL character")
    if not text.strip():
        raise ADQLSyntaxError("the query is empty")
    dialect = _DIALECTS[language]()
    tokens = _tokenize(text, dialect, limits)
    trees = _parse_tokens(text, tokens, dialect, language)
    statements = [tree for tree in trees if tree is not None]
    if len(statements) != 1 or trees[0] is None:
        where = _statement_start(tokens)
        raise ADQLSyntaxError(
            "only one query may be sent at a time (a ';' separates statements)",
            line=where[0],
            column=where[1],
        )
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        line, column = position_of(tree) or (1, 1)
        raise ADQLSyntaxError(
            "only SELECT queries (optionally starting with WITH) are allowed",
            line=line,
            column=column,
        )
    _check_depth(tree, limits)
    _check_nodes(tree, language, limits)
    return ParsedQuery(tree=tree, language=language, text=text)


def position_of(node: exp.Expr) -> tuple[int, int] | None:
    """Line and start column of the first token under ``node`` that sqlglot located.

    Nodes built without a token of their own (a CAST's type) borrow their parent's.
    """
    current: exp.Expr | None = node
    while current is not None:
        for candidate in current.walk():
            meta = candidate.meta
            if "line" in meta and "col" in meta:
                start, end = meta.get("start"), meta.get("end")
                width = (end - start) if isinstance(start, int) and isinstance(end, int) else 0
                return int(meta["line"]), int(meta["col"]) - width
        current = current.parent
    return None


def _tokenize(text: str, dialect: Dialect, limits: Limits) -> list:
    try:
        tokens = dialect.tokenize(text)
    except TokenError:
        line, column, quote = _unclosed_quote(text)
        if quote:
            what = "string literal" if quote == "'" else "delimited identifier"
            raise ADQLSyntaxError(
                f"the {what} starting with {quote} is not closed", line=line, column=column
            ) from None
        raise ADQLSyntaxError("the query contains characters that are not ADQL") from None
    depth = 0
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
            if depth > limits.max_depth:
                raise ADQLSyntaxError(
                    f"the query nests parentheses more than {limits.max_depth} deep",
                    line=token.line,
                    column=token.col - len(token.text) + 1,
                )
        elif token.token_type == TokenType.R_PAREN:
            depth = max(0, depth - 1)
        elif (
            token.token_type in (TokenType.STRING, TokenType.NUMBER, TokenType.HEX_STRING)
            and len(token.text) > limits.max_literal
        ):
            raise ADQLSyntaxError(
                f"a literal of {len(token.text):,} characters is longer than the limit"
                f" of {limits.max_literal:,}",
                line=token.line,
                column=max(1, token.col - len(token.text) + 1),
            )
    return tokens


def _unclosed_quote(text: str) -> tuple[int | None, int | None, str]:
    """Where the quote that never closes starts (doubled quotes are escapes)."""
    open_at, quote, i = -1, "", 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                if i + 1 < len(text) and text[i + 1] == quote:
                    i += 1
                else:
                    quote = ""
        elif char in "'\"":
            quote, open_at = char, i
        elif text.startswith("--", i):
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        i += 1
    if not quote:
        return None, None, ""
    line = text.count("\n", 0, open_at) + 1
    column = open_at - (text.rfind("\n", 0, open_at) + 1) + 1
    return line, column, quote


def _parse_tokens(
    text: str, tokens: list, dialect: Dialect, language: Language
) -> list[exp.Expr | None]:
    try:
        return dialect.parser().parse(tokens, text)
    except ParseError as error:
        raise _syntax_error(error, text, language) from None
    except RecursionError:
        raise ADQLSyntaxError("the query is nested too deeply to be read") from None


def _syntax_error(error: ParseError, text: str, language: Language) -> ADQLSyntaxError:
    info = error.errors[0] if error.errors else {}
    description = str(info.get("description") or error)
    for pattern, template in _NICE_SYNTAX:
        match = pattern.search(description)
        if match:
            groups = [_INCOMPLETE.get(g.lower(), "expression") for g in match.groups()]
            description = template.format(*groups)
            break
    token = str(info.get("highlight") or "").strip()
    line = info.get("line")
    end = info.get("col")
    column = None
    if isinstance(end, int):
        column = max(1, end - len(str(info.get("highlight") or "")) + 1)
    near = f" near '{token}'" if token else " at the end of the query"
    if "/*" in text and language == "ADQL":
        description += " (comments in ADQL start with -- and run to the end of the line)"
    return ADQLSyntaxError(
        f"syntax error{near}: {description}",
        line=line if isinstance(line, int) else None,
        column=column,
        detail={"token": token},
    )


def _statement_start(tokens: list) -> tuple[int | None, int | None]:
    seen_semicolon = False
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            seen_semicolon = True
        elif seen_semicolon:
            return token.line, token.col - len(token.text) + 1
    return None, None


def _check_depth(tree: exp.Expr, limits: Limits) -> None:
    stack: list[tuple[exp.Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            where = position_of(node) or (None, None)
            raise ADQLSyntaxError(
                f"the query nests expressions more than {limits.max_depth} deep",
                line=where[0],
                column=where[1],
            )
        for child in node.iter_expressions():
            # AND/OR chains are long, not deep: sqlglot prints and we lower them iteratively.
            same_chain = isinstance(node, exp.Connector) and type(child) is type(node)
            stack.append((child, depth if same_chain else depth + 1))


def _refuse(node: exp.Expr, message: str) -> ADQLError:
    where = position_of(node) or (None, None)
    return ADQLError(message, line=where[0], column=where[1])


def _check_nodes(tree: exp.Query, language: Language, limits: Limits) -> None:
    allowed = _ALLOWED_NODES[language]
    table = functions.ADQL_FUNCTIONS if language == "ADQL" else functions.SQL_FUNCTIONS
    for node in tree.walk():
        kind = type(node)
        if kind not in allowed:
            what = _WHAT.get(kind) or f"'{_snippet(node)}' is"
            raise _refuse(
                node,
                f"{what} not allowed in {'ADQL' if language == 'ADQL' else 'Data Lab SQL'} queries",
            )
        if isinstance(node, exp.Anonymous):
            _check_function(node, table)
        elif isinstance(node, exp.DataType) and node.expressions and node.this not in (
            exp.DataType.Type.CHAR,
            exp.DataType.Type.VARCHAR,
        ):
            raise _refuse(node, f"{node.this.value} takes no length or precision in ADQL")
        elif isinstance(node, exp.DataType) and node.this not in _CAST_TARGETS:
            raise _refuse(
                node,
                f"cannot CAST to {node.sql()}; allowed types are SMALLINT,"
                " INTEGER, BIGINT, REAL, DOUBLE PRECISION, CHAR, VARCHAR, TIMESTAMP",
            )
        elif isinstance(node, exp.In) and len(node.expressions) > limits.max_in_list:
            raise _refuse(
                node,
                f"an IN list of {len(node.expressions):,} values is longer than"
                f" the limit of {limits.max_in_list:,}",
            )
        elif isinstance(node, exp.Select) and language == "ADQL" and not node.args.get("from_"):
            raise _refuse(node, "an ADQL SELECT needs a FROM clause")
        extra = _ARGS.get(kind)
        if extra is not None:
            for key, value in node.args.items():
                if key not in extra and value not in (None, False, [], ""):
                    raise _refuse(node, f"'{_snippet(node)}' is not allowed")
        if isinstance(node, exp.Table):
            _check_table_node(node)
        elif isinstance(node, exp.Join):
            _check_join(node)
        elif isinstance(node, (exp.Limit, exp.Offset)):
            _check_count(node)


def _check_function(node: exp.Anonymous, table: dict[str, functions.FunctionSpec]) -> None:
    name = node.name.upper()
    spec = table.get(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(c for c in close)}?" if close else ""
        raise _refuse(node, f"unknown function {node.name}{hint}")
    if name == "REGION":
        raise _refuse(node, "REGION is not supported; use POINT, CIRCLE, BOX or POLYGON")
    count = len(node.expressions)
    if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
        raise _refuse(node, f"{name} takes {spec.arity_text()}; got {count}")
    if name == "RAND" and count:
        raise _refuse(node, "RAND with a seed is not supported; use RAND()")


def _check_table_node(node: exp.Table) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise _refuse(node, "only named tables may be used in FROM (no table functions)")
    if node.args.get("catalog") is not None and node.args["catalog"].name:
        raise _refuse(node, f"table names have at most two parts (schema.table): {node.sql()}")


def _check_join(node: exp.Join) -> None:
    kind = (node.args.get("kind") or "").upper()
    if kind not in ("", "INNER", "OUTER", "CROSS"):
        raise _refuse(node, f"{kind} JOIN is not allowed")
    method = (node.args.get("method") or "").upper()
    if method not in ("", "NATURAL"):
        raise _refuse(node, f"{method} JOIN is not allowed")
    # sqlglot sets "pivots" on explicit JOINs only, not on the comma of "FROM a, b".
    explicit = "pivots" in node.args
    condition = node.args.get("on") or node.args.get("using")
    if explicit and kind != "CROSS" and not method and not condition:
        raise _refuse(node, "a JOIN needs ON or USING (or write NATURAL JOIN or CROSS JOIN)")
    if condition and (kind == "CROSS" or method):
        raise _refuse(node, f"{kind or method} JOIN takes no ON or USING")


def _check_count(node: exp.Expr) -> None:
    value = node.expression
    if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
        raise _refuse(node, "TOP, LIMIT and OFFSET take a whole number")


def _snippet(node: exp.Expr) -> str:
    try:
        text = node.sql()
    except Exception:
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."
