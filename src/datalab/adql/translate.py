"""From checked tree to engine SQL: resolve tables and columns, lower, generate.

The metadata is injected (:class:`TableCatalog`): the caller decides which tables
this user may read — public catalogs, TAP_SCHEMA, their own myDB tables, this
request's uploads — and nothing else resolves.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from datalab.adql import functions, templates, units
from datalab.adql.cones import ConeSearch, ConeShape, find_cone
from datalab.adql.dialect import ADQL
from datalab.adql.errors import ADQLError
from datalab.adql.gate import Language, Limits, ParsedQuery, parse, position_of
from datalab.adql.joins import NEAR_META, NEAR_TABLE, NearJoin, NearMark, rewrite_positional_joins
from datalab.adql.lower import SOURCE_META, ColumnSource, Lowerer
from datalab.catalog.metadata import ColumnInfo, TableInfo
from datalab.errors import UsageError

__all__ = ["ResultColumn", "TableCatalog", "Translation", "translate"]


@dataclass(frozen=True)
class ResultColumn:
    """Metadata of one output column, as a VOTable FIELD needs it."""

    name: str
    datatype: str | None = None
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    description: str | None = None


@dataclass(frozen=True, eq=False)
class Translation:
    """A compiled query: its engine SQL, its result columns and the tables it reads.

    ``cone`` describes a plain cone search (:mod:`datalab.adql.cones`), which the
    query layer may answer without the engine; the SQL of such a query is then only
    generated if something asks for it (``source`` is a function producing it).
    ``near`` describes a crossmatch of an upload with a positional catalog table,
    which the query layer may run on just the table's rows near the upload's.
    """

    source: str | Callable[[], str] = field(repr=False)
    columns: tuple[ResultColumn, ...]
    tables: tuple[str, ...] = field(default=())
    cone: ConeSearch | None = None
    near: NearJoin | None = None

    @cached_property
    def sql(self) -> str:
        return self.source if isinstance(self.source, str) else self.source()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Translation):
            return NotImplemented
        return (self.sql, self.columns, self.tables, self.cone, self.near) == (
            other.sql,
            other.columns,
            other.tables,
            other.cone,
            other.near,
        )

    __hash__ = None  # type: ignore[assignment]


class TableCatalog:
    """The tables one request may read, by ADQL name, with their engine names.

    ``physical`` maps an ADQL name (``schema.table``) to the name the engine knows it
    by, for tables that live elsewhere (a user's myDB, an upload).

    ``prefixes`` maps a stored column, ``(schema, table, column)``, to a string this
    request serves in front of its values: wherever a query reads that column (its
    output, conditions, functions, subqueries and CTEs passing it on) the engine
    computes ``prefix || column`` instead. ``ivoa.obscore.access_url`` stores
    server-relative paths and is served as absolute URLs this way, with the base URL
    of the request. The column's metadata is unchanged.
    """

    def __init__(
        self,
        tables: Iterable[TableInfo],
        physical: Mapping[str, tuple[str, ...]] | None = None,
        prefixes: Mapping[tuple[str, str, str], str] | None = None,
    ) -> None:
        self._tables: dict[str, TableInfo] = {}
        for table in tables:
            self._tables[f"{table.schema}.{table.name}"] = table
        self._physical = dict(physical or {})
        self._prefixes = dict(prefixes or {})
        self._identity: tuple[object, ...] | None = None

    def prefix(self, table: TableInfo, column: str) -> str | None:
        """The string served in front of this column's values, if any."""
        return self._prefixes.get((table.schema, table.name, column))

    @property
    def has_prefixes(self) -> bool:
        return bool(self._prefixes)

    def find(self, schema: str | None, name: str) -> list[TableInfo]:
        if schema is not None:
            found = self._tables.get(f"{schema}.{name}")
            return [found] if found else []
        return [t for t in self._tables.values() if t.name == name]

    def physical(self, table: TableInfo) -> tuple[str, ...]:
        key = f"{table.schema}.{table.name}"
        return self._physical.get(key, (table.schema, table.name))

    def names(self) -> list[str]:
        return sorted(self._tables)

    def identity(self) -> tuple[object, ...]:
        """What makes two catalogs resolve every name alike, cheaply: the table
        objects themselves (kept alive by whoever keys on this) and the mappings."""
        if self._identity is None:
            self._identity = (
                tuple(map(id, self._tables.values())),
                tuple(self._physical.items()),
                tuple(self._prefixes.items()),
            )
        return self._identity

    def table_objects(self) -> tuple[TableInfo, ...]:
        return tuple(self._tables.values())


_TEMPLATES = templates.TemplateCache()
_DEFAULT_LIMITS = Limits()


def translate(
    text: str,
    catalog: TableCatalog,
    *,
    language: Language = "ADQL",
    limits: Limits | None = None,
) -> Translation:
    """Compile an ADQL (or Data Lab SQL) query into DuckDB SQL and its columns' metadata.

    A query that differs from one compiled before only in the numbers of its region
    predicates reuses that compilation (:mod:`datalab.adql.templates`).
    """
    limits = limits or _DEFAULT_LIMITS
    if not isinstance(text, str) or len(text) > limits.max_length:
        return _compile(parse(text, language, limits=limits), catalog, None)[0]
    numbers = templates.number_tokens(text)
    key = (
        language,
        limits,
        templates.shape_key(text, numbers),
        catalog.identity(),
    )
    reused = _reuse(key, numbers, language)
    if reused is not None:
        if _TEMPLATES.check:
            _check_reuse(reused, text, catalog, language, limits, numbers)
        return reused
    translation, template = _compile(parse(text, language, limits=limits), catalog, numbers)
    if template is not None:
        _TEMPLATES.store(key, template)
    return translation


def _reuse(
    key: tuple[object, ...], numbers: list[templates.Number], language: Language
) -> Translation | None:
    """The translation from a template of this shape, or None to compile in full."""
    found = _TEMPLATES.find(key, numbers)
    if found is None:
        _TEMPLATES.misses += 1
        return None
    template, texts = found
    table = _function_table(language)

    def render_sql() -> str:
        fragments = [
            templates.render(region, table, region_texts)
            for region, region_texts in zip(template.regions, texts, strict=True)
        ]
        return templates.fill(template, fragments)

    cone = _bind_cone(template.cone, texts[0]) if template.cone is not None else None
    source: str | Callable[[], str] = render_sql
    if cone is None:
        try:
            source = render_sql()
        except Exception:  # noqa: BLE001 - refused numbers: the full compile says why, where
            return None
    # else: numbers that make a valid circle always render; the SQL is made only if
    # the cone cannot be answered without the engine.
    _TEMPLATES.hits += 1
    result = template.result
    return Translation(source, result.columns, result.tables, cone, result.near)


def _bind_cone(shape: ConeShape, texts: dict[int, str]) -> ConeSearch | None:
    """The cone search for these numbers, if they make a circle the compiler accepts."""
    cone = shape.bind(texts)
    if cone is None:
        return None
    try:
        cone.circle  # noqa: B018 - checks the numbers (and keeps the circle for later)
    except UsageError:
        return None
    return cone


def _check_reuse(
    reused: Translation,
    text: str,
    catalog: TableCatalog,
    language: Language,
    limits: Limits,
    numbers: list[templates.Number],
) -> None:
    fresh, _ = _compile(parse(text, language, limits=limits), catalog, numbers)
    if fresh != reused:
        raise RuntimeError(f"a reused compilation differs from a full one for {text!r}")


def _function_table(language: Language) -> dict[str, functions.FunctionSpec]:
    return functions.ADQL_FUNCTIONS if language == "ADQL" else functions.SQL_FUNCTIONS


def translate_parsed(parsed: ParsedQuery, catalog: TableCatalog) -> Translation:
    return _compile(parsed, catalog, None)[0]


def _compile(
    parsed: ParsedQuery,
    catalog: TableCatalog,
    numbers: list[templates.Number] | None,
    *,
    near: bool = True,
) -> tuple[Translation, templates.Template | None]:
    """The translation and, given the text's ``numbers``, a template for reusing it:
    with other numbers in its region predicates, or as it is when it has none.

    A crossmatch of an upload with a positional catalog table (``near``) is compiled
    for the rows of the table near the upload's (``Translation.near``); its SQL for
    the whole table, which needs the far costlier cell rewrite, is compiled only if
    something asks for it."""
    tree = normalize_identifiers(parsed.tree, dialect=ADQL)
    used = _resolve_tables(tree, catalog)
    tree = _qualify(tree, used, catalog)
    _annotate_sources(tree, used)
    _name_outputs(tree)
    columns = tuple(_result_columns(tree))
    _apply_prefixes(tree, used, catalog)
    table = _function_table(parsed.language)
    tree = rewrite_positional_joins(tree, defer_near=near)
    marks = [t.meta[NEAR_META] for t in tree.find_all(exp.Table) if NEAR_META in t.meta]
    if marks:
        if len(marks) > 1 or len(catalog.physical(marks[0].other)) != 1:
            # Several, or the other side is a stored table rather than one the query
            # brings along: the whole tables it is.
            return _compile(parse(parsed.text, parsed.language), catalog, numbers, near=False)
        # A template would keep this query's restriction for other numbers; such a
        # query names a per-query table, which no later query names anyway.
        numbers = None
    regions = templates.cut_regions(tree, numbers) if numbers else []
    cone_shape = (
        find_cone(tree, regions[0].node, regions[0].marker, catalog.physical)
        if len(regions) == 1
        else None
    )
    lowered = Lowerer(table).lower(tree)
    for table_node in lowered.find_all(exp.Table):
        info: TableInfo | None = table_node.meta.get("datalab_table")
        if info is not None:
            _rename_physical(table_node, catalog.physical(info))
    tables = tuple(sorted({f"{t.schema}.{t.name}" for t in used.values()}))
    if marks:
        near_join = _near_join(lowered, marks[0], catalog)
        text, language = parsed.text, parsed.language

        def whole() -> str:
            return _compile(parse(text, language), catalog, None, near=False)[0].sql

        return Translation(source=whole, columns=columns, tables=tables, near=near_join), None
    # The tree is this call's own and is dropped afterwards: generating from it directly
    # saves the deep copy sqlglot otherwise makes first (a fifth of a cone's compile).
    sql = lowered.sql(dialect="duckdb", copy=False, comments=False, identify=True)
    translation = Translation(source=sql, columns=columns, tables=tables)
    if numbers is None:
        return translation, None
    if not regions:  # reused only by the same text, numbers and all
        return translation, templates.template_from(
            sql, [], numbers, translation, catalog.table_objects()
        )
    fragments = [templates.render(region, table, {}) for region in regions]
    template = templates.template_from(
        sql, regions, numbers, translation, catalog.table_objects(), cone_shape
    )
    if template is None:  # a marker got lost or doubled: compile without cutting
        return _compile(parse(parsed.text, parsed.language), catalog, None)
    cone = None
    if cone_shape is not None:
        cone = _bind_cone(cone_shape, {n.start: n.text for n in numbers})
    translated = dataclasses.replace(
        translation, source=templates.fill(template, fragments), cone=cone
    )
    return translated, template


def _near_join(lowered: exp.Expr, mark: NearMark, catalog: TableCatalog) -> NearJoin:
    """The near join of a query compiled with its marked join left as written: its
    catalog table read as ``NEAR_TABLE``. Changes ``lowered``."""
    node = next(t for t in lowered.find_all(exp.Table) if NEAR_META in t.meta)
    node.set("catalog", None)
    node.set("db", None)
    node.set("this", exp.to_identifier(NEAR_TABLE, quoted=True))
    return NearJoin(
        table=f"{mark.table.schema}.{mark.table.name}",
        other=catalog.physical(mark.other)[0],
        ra=mark.ra,
        dec=mark.dec,
        radius=mark.radius,
        sql=lowered.sql(dialect="duckdb", copy=False, comments=False, identify=True),
        limited=lowered.find(exp.Limit, exp.Offset, exp.Fetch) is not None,
    )


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name for cte in tree.find_all(exp.CTE)}


def _resolve_tables(tree: exp.Expr, catalog: TableCatalog) -> dict[int, TableInfo]:
    """Find every table reference in the catalog; refuse the unknown and the ambiguous."""
    ctes = _cte_names(tree)
    used: dict[int, TableInfo] = {}
    for node in tree.find_all(exp.Table):
        schema = node.db or None
        name = node.name
        if schema is None and name in ctes:
            continue
        found = catalog.find(schema, name)
        if not found:
            raise _unknown_table(node, schema, name, catalog)
        if len(found) > 1:
            options = ", ".join(f"{t.schema}.{t.name}" for t in found)
            raise _fail(node, f"table name {name} is ambiguous; qualify it: {options}")
        info = found[0]
        node.meta["datalab_table"] = info
        node.set("db", exp.to_identifier(info.schema))
        used[id(node)] = info
    return used


def _unknown_table(
    node: exp.Table, schema: str | None, name: str, catalog: TableCatalog
) -> ADQLError:
    wanted = f"{schema}.{name}" if schema else name
    names = catalog.names()
    pool = names if schema else names + [n.split(".", 1)[1] for n in names]
    close = difflib.get_close_matches(wanted, pool, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return _fail(node, f"table {wanted} does not exist or is not readable{hint}")


def _fail(node: exp.Expr, message: str) -> ADQLError:
    where = position_of(node) or (None, None)
    return ADQLError(message, line=where[0], column=where[1])


def _qualify(tree: exp.Expr, used: dict[int, TableInfo], catalog: TableCatalog) -> exp.Expr:
    mapping: dict[str, dict[str, dict[str, str]]] = {}
    for info in used.values():
        mapping.setdefault(info.schema, {})[info.name] = {
            c.name: _sql_type(c) for c in info.columns
        }
    schema = MappingSchema(mapping, dialect=ADQL, normalize=False)
    try:
        return qualify(
            tree,
            schema=schema,
            dialect=ADQL,
            validate_qualify_columns=True,
            quote_identifiers=False,
            expand_stars=True,
        )
    except OptimizeError as error:
        raise _column_error(str(error), tree, used) from None


_COLUMN_RE = re.compile(r"Column '([^']+)' could not be resolved(?: for table: '([^']+)')?")
_POSITION_RE = re.compile(r"Line: (\d+), Col: (\d+)")


def _column_error(message: str, tree: exp.Expr, used: dict[int, TableInfo]) -> ADQLError:
    match = _COLUMN_RE.search(message)
    where = _POSITION_RE.search(message)
    line = int(where.group(1)) if where else None
    column = None
    if match:
        name = match.group(1)
        if where:
            column = max(1, int(where.group(2)) - len(name) + 1)
        candidates = sorted({c.name for t in used.values() for c in t.columns})
        owners = [
            f"{t.schema}.{t.name}" for t in used.values() if any(c.name == name for c in t.columns)
        ]
        if match.group(2):
            return ADQLError(
                f"column {name} not found in {match.group(2)} (or {match.group(2)}"
                " is not a table name or alias in this query)",
                line=line,
                column=column,
            )
        if len(owners) > 1:  # two tables, or one table twice (a self-join)
            return ADQLError(
                f"column {name} is ambiguous: it is in "
                f"{', '.join(sorted(set(owners)))}; qualify it",
                line=line,
                column=column,
            )
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
        if not close:
            close = [c for c in candidates if c.lower() == name.lower()][:1]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return ADQLError(f"column {name} does not exist{hint}", line=line, column=column)
    unknown = re.search(r"Unknown column: (\S+)", message)
    if unknown:
        return ADQLError(f"column {unknown.group(1)} does not exist", line=line, column=column)
    first = message.splitlines()[0]
    return ADQLError(f"the query's names could not be resolved: {first}", line=line, column=column)


def _sql_type(column: ColumnInfo) -> str:
    base = {
        "boolean": "BOOLEAN",
        "short": "SMALLINT",
        "int": "INT",
        "long": "BIGINT",
        "float": "FLOAT",
        "double": "DOUBLE",
        "char": "VARCHAR",
        "unicodeChar": "VARCHAR",
        "unsignedByte": "UTINYINT",
        "timestamp": "TIMESTAMP",
    }.get(column.datatype, "VARCHAR")
    if column.arraysize and column.datatype not in ("char", "unicodeChar"):
        return base + "[]"
    if column.xtype == "timestamp":
        return "TIMESTAMP"
    return base


def _annotate_sources(tree: exp.Expr, used: dict[int, TableInfo]) -> None:
    """Mark each column reference to a catalog table with (alias, table, column)."""
    for scope in traverse_scope(tree):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table) and id(source) in used:
                info = used[id(source)]
                match = next((c for c in info.columns if c.name == column.name), None)
                if match is not None:
                    column.meta[SOURCE_META] = ColumnSource(column.table, info, match)


def _apply_prefixes(tree: exp.Expr, used: dict[int, TableInfo], catalog: TableCatalog) -> None:
    """Replace each reference to a prefixed catalog column by ``'prefix' || column``.

    Only references whose source is the catalog table itself are replaced, so a
    subquery or CTE passing the column on serves the prefixed value once, and the
    queries around it read that. Correlated references (a subquery reading a column
    of an enclosing query's table) are resolved through the enclosing scopes.
    """
    if not catalog.has_prefixes:
        return
    targets: list[tuple[exp.Column, str]] = []
    for scope in traverse_scope(tree):
        for column in scope.columns:
            source = column.meta.get(SOURCE_META)
            info: TableInfo | None = source[1] if source is not None else None
            if info is None:
                info = _enclosing_table(scope, column, used)
            if info is None:
                continue
            prefix = catalog.prefix(info, column.name)
            if prefix is not None:
                targets.append((column, prefix))
    seen: set[int] = set()
    for column, prefix in targets:
        if id(column) in seen:
            continue
        seen.add(id(column))
        concat = exp.DPipe(this=exp.Literal.string(prefix), expression=column.copy())
        column.replace(exp.Paren(this=concat))


def _enclosing_table(
    scope: Scope, column: exp.Column, used: dict[int, TableInfo]
) -> TableInfo | None:
    """The catalog table an outer reference of a correlated subquery reads, if any."""
    if not column.table or column.table in scope.sources:
        return None
    outer = scope.parent
    while outer is not None:
        source = outer.sources.get(column.table)
        if source is not None:
            if isinstance(source, exp.Table) and id(source) in used:
                info = used[id(source)]
                if any(c.name == column.name for c in info.columns):
                    return info
            return None
        outer = outer.parent
    return None


def _outer_select(tree: exp.Expr) -> exp.Select:
    node = tree
    while isinstance(node, (exp.Union, exp.Except, exp.Intersect)):
        node = node.this
    while isinstance(node, exp.Subquery):
        node = node.this
    assert isinstance(node, exp.Select)
    return node


def _name_outputs(tree: exp.Expr) -> None:
    """Give computed output columns readable, unique names instead of ``_col_N``."""
    select = _outer_select(tree)
    taken = {p.alias_or_name for p in select.expressions}
    for projection in select.expressions:
        if isinstance(projection, exp.Alias) and re.fullmatch(r"_col_\d+", projection.alias):
            inner = projection.this
            if isinstance(inner, exp.Anonymous):
                base = inner.name.lower()
            elif isinstance(inner, exp.Func):
                base = inner.sql_name().lower()
            else:
                base = "expr"
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}{n}"
            taken.add(name)
            projection.set("alias", exp.to_identifier(name))


_GEOMETRY_XTYPE = {
    "POINT": ("double", "2", "point"),
    "CIRCLE": ("double", "3", "circle"),
    "POLYGON": ("double", "*", "polygon"),
    "BOX": ("double", "*", "polygon"),
    "CENTROID": ("double", "2", "point"),
    "IVO_EPOCH_PROP_POS": ("double", "2", "point"),
}


def _result_columns(tree: exp.Expr) -> Iterable[ResultColumn]:
    select = _outer_select(tree)
    for projection in select.expressions:
        name = projection.alias_or_name
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        yield _describe(name, inner, select)


def _describe(name: str, node: exp.Expr, select: exp.Select) -> ResultColumn:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        source = node.meta.get(SOURCE_META)
        if source is not None:
            col: ColumnInfo = source[2]
            return ResultColumn(
                name,
                col.datatype,
                col.arraysize,
                col.xtype,
                col.unit,
                col.ucd,
                col.utype,
                col.description,
            )
        derived = _derived_column(node, select)
        if derived is not None:
            return ResultColumn(
                name,
                derived.datatype,
                derived.arraysize,
                derived.xtype,
                derived.unit,
                derived.ucd,
                derived.utype,
                derived.description,
            )
        return ResultColumn(name)
    if isinstance(node, exp.Anonymous):
        upper = node.name.upper()
        if upper in _GEOMETRY_XTYPE:
            datatype, arraysize, xtype = _GEOMETRY_XTYPE[upper]
            return ResultColumn(name, datatype, arraysize, xtype, "deg")
        if upper in ("DISTANCE", "Q3C_DIST"):
            return ResultColumn(name, "double", unit="deg", ucd="pos.angDistance")
        if upper == "AREA":
            return ResultColumn(name, "double", unit="deg**2")
        if upper in ("CONTAINS", "INTERSECTS"):
            return ResultColumn(name, "int")
        if upper == "IVO_HEALPIX_INDEX":
            return ResultColumn(name, "long", ucd="pos.healpix")
        if upper in ("COORD1", "COORD2"):
            return ResultColumn(
                name, "double", unit="deg", ucd="pos.eq.ra" if upper == "COORD1" else "pos.eq.dec"
            )
        if upper == "IN_UNIT" and len(node.expressions) == 2:
            return ResultColumn(name, "double", unit=node.expressions[1].name)
        if upper in ("LOWER", "UPPER", "COORDSYS"):
            return ResultColumn(name, "char", "*")
        return ResultColumn(name, "double")
    if isinstance(node, exp.Count):
        return ResultColumn(name, "long")
    if isinstance(node, (exp.Min, exp.Max, exp.Sum)):
        inner = _describe(name, node.this, select)
        if isinstance(node, exp.Sum) and inner.datatype in ("short", "int", "long"):
            return ResultColumn(name, "long", unit=inner.unit, ucd=inner.ucd)
        return inner
    if isinstance(node, exp.Avg):
        inner = _describe(name, node.this, select)
        return ResultColumn(name, "double", unit=inner.unit, ucd=inner.ucd)
    if isinstance(node, (exp.DPipe,)):
        return ResultColumn(name, "char", "*")
    if isinstance(node, exp.Cast):
        kind = node.to.this
        mapping = {
            exp.DataType.Type.SMALLINT: "short",
            exp.DataType.Type.INT: "int",
            exp.DataType.Type.BIGINT: "long",
            exp.DataType.Type.FLOAT: "float",
            exp.DataType.Type.DOUBLE: "double",
            exp.DataType.Type.BOOLEAN: "boolean",
        }
        if kind in mapping:
            return ResultColumn(name, mapping[kind])
        if kind == exp.DataType.Type.TIMESTAMP:
            return ResultColumn(name, "char", "*", "timestamp")
        return ResultColumn(name, "char", "*")
    if isinstance(node, exp.Literal):
        if node.is_string:
            return ResultColumn(name, "char", "*")
        return ResultColumn(name, "double" if any(ch in node.this for ch in ".eE") else "long")
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg)):
        # The datatype comes from the engine's result; the unit, where it can be known,
        # from the operands' (g - r of two magnitudes is a magnitude).
        unit = units.infer_unit(node, _column_unit)
        return ResultColumn(name, unit=unit.to_string("vounit") if unit is not None else None)
    return ResultColumn(name)


def _column_unit(node: exp.Expr) -> str | None:
    source = node.meta.get(SOURCE_META)
    return source[2].unit if source is not None else None


def _derived_column(node: exp.Column, select: exp.Select) -> ColumnInfo | None:
    """Follow a column of a subquery or CTE back to the catalog column it copies."""
    scope = _scope_of(select)
    if scope is None:
        return None
    source = scope.sources.get(node.table)
    if not isinstance(source, Scope):
        return None
    inner_select = source.expression
    if not isinstance(inner_select, exp.Select):
        return None
    for projection in inner_select.expressions:
        if projection.alias_or_name == node.name:
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            if isinstance(inner, exp.Column):
                found = inner.meta.get(SOURCE_META)
                if found is not None:
                    return found[2]
                return _derived_column(inner, inner_select)
    return None


def _scope_of(select: exp.Select) -> Scope | None:
    root = select
    while root.parent is not None:
        root = root.parent
    for scope in traverse_scope(root):
        if scope.expression is select:
            return scope
    return None


def _rename_physical(node: exp.Table, parts: tuple[str, ...]) -> None:
    alias = node.alias
    if len(parts) == 3:
        node.set("catalog", exp.to_identifier(parts[0], quoted=True))
    node.set("db", exp.to_identifier(parts[-2], quoted=True) if len(parts) > 1 else None)
    node.set("this", exp.to_identifier(parts[-1], quoted=True))
    if alias:
        node.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
