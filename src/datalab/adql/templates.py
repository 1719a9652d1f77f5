"""Compiled queries kept by shape: the same query with other numbers in its regions.

Clients send one query shape over and over with other coordinates: a cone search
service, a script looping over positions, TOPCAT's activation actions, a portal
paging through a region. Compiling costs milliseconds of Python (parsing, resolving
names, generating SQL) while running a small cone costs about as much; so the
compiler keeps what it built for a shape and only redoes the part that depends on
the numbers.

The parts that may change are **region predicates**: ``CONTAINS`` or ``INTERSECTS``
compared with a constant, or ``q3c_radial_query``, whose only row inputs are the two
position columns of one table and whose other arguments are constants (a cone, a
box, a polygon). Such a predicate is cut out of the tree before lowering and a marker
left in its place; the rest of the query is lowered and generated once. The cut
predicate is lowered and generated on its own (HEALPix ranges and exact test for the
region's values) and put in place of the marker, both on the first compile and on
every reuse, so the two cannot differ.

A query reuses a template when its text equals the template's outside the numbers
of its region predicates, for the same language, limits and readable tables. A query
without region predicates is kept too, and reused when the same text comes again (an
aggregate refreshed, a page of results asked for twice). Any
other number (``TOP``, a magnitude cut) must be equal too. A region whose new
numbers are refused (a negative radius) is compiled in full, so that the error
points into the new text.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from sqlglot import exp

from datalab.adql.functions import FunctionSpec
from datalab.adql.lower import SOURCE_META, Lowerer
from datalab.adql.trees import copy_tree

if TYPE_CHECKING:
    from datalab.adql.cones import ConeShape
    from datalab.adql.translate import Translation

__all__ = ["Region", "TemplateCache", "cut_regions", "number_tokens", "render"]

# Strings, delimited identifiers and comments are opaque; hexadecimal literals are
# kept as they are; the last group is a decimal or floating-point number standing
# alone (not part of a name such as flux_g1).
_TOKENS = re.compile(
    r"""(?=['"\-/0-9.])  # only these can start a token: halves the scan of a query
    (?:'(?:[^']|'')*'
      | "(?:[^"]|"")*"
      | --[^\n]*
      | /\*.*?\*/
      | 0[xX][0-9a-fA-F]+
      | (?<![\w$])((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?![\w$.]))""",
    re.VERBOSE | re.DOTALL,
)
# A number longer than this is compiled in full (the gate checks literal sizes).
_MAX_NUMBER = 40
_REGION_FUNCTIONS = ("CONTAINS", "INTERSECTS")
_BOOLEAN_REGIONS = ("Q3C_RADIAL_QUERY",)
# Unique per process, so that no text of a query can contain a marker by chance.
_MARKER = f"__datalab_region_{secrets.token_hex(8)}_"


class Number(NamedTuple):
    """A standalone number of a query text: a tuple, cheap to make by the dozen."""

    start: int
    end: int
    text: str


def number_tokens(text: str) -> list[Number]:
    """The standalone numbers of a query text, in order, with their offsets."""
    return [
        Number(match.start(1), match.end(1), number)
        for match in _TOKENS.finditer(text)
        if (number := match.group(1)) is not None
    ]


def shape_key(text: str, numbers: list[Number]) -> str:
    """The text with every standalone number replaced by ``#``."""
    parts, last = [], 0
    for number in numbers:
        parts.append(text[last : number.start])
        parts.append("#")
        last = number.end
    parts.append(text[last:])
    return "".join(parts)


@dataclass
class Region:
    """A region predicate cut out of a tree: its original subtree and its numbers."""

    node: exp.Expr  # before lowering, with the column metadata the lowering needs
    starts: tuple[int, ...]  # text offsets of its numeric literals

    @property
    def marker(self) -> str:
        return f"{_MARKER}{id(self)}"


def cut_regions(tree: exp.Expr, numbers: list[Number]) -> list[Region]:
    """Replace each region predicate of ``tree`` by a marker column; return them.

    Only predicates whose every numeric literal is one of ``numbers`` (located by
    its text offset) are cut, so that each can be rebuilt from new numbers.
    """
    offsets = {n.start for n in numbers}
    regions: list[Region] = []
    for node in list(tree.find_all(exp.EQ, exp.NEQ, exp.Anonymous)):
        if not _is_region_predicate(node):
            continue
        starts = _literal_starts(node)
        if starts is None or not set(starts) <= offsets:
            continue
        region = Region(node=node, starts=starts)
        node.replace(exp.column(region.marker, quoted=True))
        regions.append(region)
    return regions


def render(region: Region, functions: dict[str, FunctionSpec], texts: dict[int, str]) -> str:
    """The engine SQL of a region predicate, its numbers replaced (by text offset)."""
    node = copy_tree(region.node)
    if texts:
        for literal in node.find_all(exp.Literal):
            start = literal.meta.get("start")
            if start in texts:
                literal.set("this", texts[start])
    lowered = Lowerer(functions).lower(node)
    sql = lowered.sql(dialect="duckdb", copy=False, comments=False, identify=True)
    return f"({sql})"


def _is_region_predicate(node: exp.Expr) -> bool:
    if isinstance(node, exp.Anonymous):
        call: exp.Expr = node
        if node.name.upper() not in _BOOLEAN_REGIONS:
            return False
    else:
        pair = (node.this, node.expression)
        calls = [
            p
            for p in pair
            if isinstance(p, exp.Anonymous) and p.name.upper() in _REGION_FUNCTIONS
        ]
        if len(calls) != 1:
            return False
        other = pair[1] if pair[0] is calls[0] else pair[0]
        if not isinstance(other, exp.Literal) or other.is_string:
            return False
        call = calls[0]
        # A predicate comparison only when it is part of a condition, not a value.
        if not _in_condition(node):
            return False
    columns = list(call.find_all(exp.Column))
    if len(columns) != 2 or call.find(exp.Query, exp.Star) is not None:
        return False
    sources = [c.meta.get(SOURCE_META) for c in columns]
    if any(s is None for s in sources) or sources[0][0] != sources[1][0]:
        return False
    return True


def _in_condition(node: exp.Expr) -> bool:
    """Whether ``node`` is a WHERE/ON/HAVING condition or part of one via AND/OR/NOT."""
    current = node
    parent = current.parent
    while isinstance(parent, (exp.And, exp.Or, exp.Not, exp.Paren)):
        current, parent = parent, parent.parent
    return isinstance(parent, (exp.Where, exp.Having)) or (
        isinstance(parent, exp.Join) and parent.args.get("on") is current
    )


def _literal_starts(node: exp.Expr) -> tuple[int, ...] | None:
    starts = []
    for literal in node.find_all(exp.Literal):
        if literal.is_string:
            continue
        start = literal.meta.get("start")
        if not isinstance(start, int):
            return None
        starts.append(start)
    return tuple(starts)


@dataclass
class Template:
    """A compiled query with holes where its region predicates go."""

    pieces: list[str]  # SQL around the holes: len(regions) + 1 pieces
    regions: list[Region]
    hole_indices: list[list[int]]  # per region: indices into the text's numbers
    fixed: tuple[str, ...]  # the texts of the other numbers
    result: Translation  # its columns and tables are reused; its SQL is replaced
    keep_alive: object  # the catalog's tables, so that their ids in the key stay theirs
    cone: ConeShape | None = None  # when the query is a plain cone search
    holes: frozenset[int] = field(init=False)  # every index in hole_indices

    def __post_init__(self) -> None:
        self.holes = frozenset(i for indices in self.hole_indices for i in indices)


def split_at_markers(sql: str, regions: list[Region]) -> list[str] | None:
    """The SQL between the markers, or None when a marker is not there exactly once."""
    pieces: list[str] = []
    rest = sql
    for region in regions:
        quoted = f'"{region.marker}"'
        if rest.count(quoted) != 1:
            return None
        before, rest = rest.split(quoted, 1)
        pieces.append(before)
    pieces.append(rest)
    return pieces


class TemplateCache:
    """Templates by query shape, least recently used dropped first; thread-safe."""

    def __init__(self, size: int = 512, per_shape: int = 4) -> None:
        self._size = size
        self._per_shape = per_shape
        self._entries: OrderedDict[tuple[object, ...], list[Template]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        #: Compile every reused query in full as well and insist on the same answer
        #: (the test suite turns this on; see DATALAB_CHECK_QUERY_TEMPLATES).
        self.check = os.environ.get("DATALAB_CHECK_QUERY_TEMPLATES", "") not in ("", "0")

    def find(
        self, key: tuple[object, ...], numbers: list[Number]
    ) -> tuple[Template, list[dict[int, str]]] | None:
        """A template for these numbers and, per region, its new texts by offset."""
        with self._lock:
            candidates = self._entries.get(key)
            if candidates is None:
                return None
            self._entries.move_to_end(key)
            candidates = list(candidates)
        for template in candidates:
            holes = template.holes
            fixed = tuple(n.text for i, n in enumerate(numbers) if i not in holes)
            if fixed != template.fixed:
                continue
            if any(len(numbers[i].text) > _MAX_NUMBER for i in holes):
                return None
            texts = [
                {start: numbers[i].text for start, i in zip(region.starts, indices, strict=True)}
                for region, indices in zip(template.regions, template.hole_indices, strict=True)
            ]
            return template, texts
        return None

    def store(self, key: tuple[object, ...], template: Template) -> None:
        with self._lock:
            entries = self._entries.setdefault(key, [])
            entries.insert(0, template)
            del entries[self._per_shape :]
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def template_from(
    sql: str,
    regions: list[Region],
    numbers: list[Number],
    result: Translation,
    keep_alive: object,
    cone: ConeShape | None = None,
) -> Template | None:
    """A template for a compiled query, or None when its holes cannot be located."""
    pieces = split_at_markers(sql, regions)
    if pieces is None:
        return None
    index_of = {n.start: i for i, n in enumerate(numbers)}
    hole_indices = [[index_of[start] for start in region.starts] for region in regions]
    holes = {i for indices in hole_indices for i in indices}
    fixed = tuple(n.text for i, n in enumerate(numbers) if i not in holes)
    return Template(pieces, regions, hole_indices, fixed, result, keep_alive, cone)


def fill(template: Template, fragments: list[str]) -> str:
    out = [template.pieces[0]]
    for fragment, piece in zip(fragments, template.pieces[1:], strict=True):
        out.append(fragment)
        out.append(piece)
    return "".join(out)

