"""The ``key=value`` argument style of the Data Lab command line.

Data Lab users write ``datalab query sql="..." out=mydb://t``. Each command here also
accepts that spelling: a bare ``key=value`` argument whose key names one of the
command's options is read as ``--key=value``. Anything else (a path that happens to
contain ``=``, say) is left alone.
"""

from __future__ import annotations

import re

import click

__all__ = ["SeedCommand", "SeedGroup"]

_KEY_VALUE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)=(.*)$", re.DOTALL)


def _option_names(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(o for o in param.opts if o.startswith("--"))
            names.update(o for o in param.secondary_opts if o.startswith("--"))
    return names


def rewrite_seed_args(command: click.Command, args: list[str]) -> list[str]:
    known = _option_names(command)
    out: list[str] = []
    for arg in args:
        match = _KEY_VALUE.match(arg)
        if match:
            option = "--" + match.group(1).replace("_", "-")
            if option in known:
                out.append(f"{option}={match.group(2)}")
                continue
        out.append(arg)
    return out


class SeedCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, rewrite_seed_args(self, args))


class SeedGroup(click.Group):
    command_class = SeedCommand
    group_class = type
