"""Copying query trees cheaply."""

from __future__ import annotations

from typing import TypeVar

from sqlglot import exp

__all__ = ["copy_tree"]

E = TypeVar("E", bound=exp.Expr)


def copy_tree(node: E) -> E:
    """A copy of a tree whose nodes' metadata is copied one level deep.

    sqlglot's own copy deep-copies every node's metadata through :mod:`copy`, which
    makes copying the largest cost of building the engine SQL for a region; the
    compiler only reads that metadata, never changes it in place. (This follows
    sqlglot's own ``Expr.__deepcopy__``, node for node.)
    """
    root = node.__class__()
    stack: list[tuple[exp.Expr, exp.Expr]] = [(node, root)]
    while stack:
        source, target = stack.pop()
        if source._meta is not None:
            target._meta = dict(source._meta)
        if source.comments:
            target.comments = list(source.comments)
        if source._type is not None:
            target._type = source._type
        for key, value in source.args.items():
            if isinstance(value, exp.Expr):
                child = value.__class__()
                target.set(key, child)
                stack.append((value, child))
            elif type(value) is list:
                target.args[key] = []
                for item in value:
                    if isinstance(item, exp.Expr):
                        child = item.__class__()
                        target.append(key, child)
                        stack.append((item, child))
                    else:
                        target.append(key, item)
            else:
                target.args[key] = value
    return root  # type: ignore[return-value]
