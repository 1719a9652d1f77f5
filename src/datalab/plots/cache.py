"""Rendered plots kept beside the result they were drawn from.

A page shows a plot and then offers it for download as PNG and SVG: the same request
two or three times in a row. Keeping each rendering in a folder of the result's own
(a job's directory) makes the repeats free, and the files go when the result goes.
The key covers every parameter and the result file's size and modification time, so a
changed file is never answered with an old picture.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from datalab.plots.render import Plot, plot_result
from datalab.plots.spec import PlotSpec

__all__ = ["PlotCache"]


class PlotCache:
    """The plots of the result file ``source``, cached in ``directory`` (made on first
    use); at most ``limit`` renderings are kept, the oldest dropped first."""

    def __init__(self, directory: Path, source: Path, limit: int = 32) -> None:
        self.directory = directory
        self.source = source
        self.limit = limit

    def _key(self, spec: PlotSpec) -> str:
        stat = self.source.stat()
        text = f"{spec.key()}|{stat.st_size}|{stat.st_mtime_ns}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def plot(self, spec: PlotSpec) -> Plot:
        """The plot for ``spec``: from the cache, or drawn now and kept."""
        key = self._key(spec)
        found = self._read(key, spec)
        if found is not None:
            return found
        made = plot_result(self.source, spec)
        self._write(key, spec, made)
        return made

    def _read(self, key: str, spec: PlotSpec) -> Plot | None:
        try:
            about = json.loads((self.directory / f"{key}.json").read_text())
            content = (self.directory / f"{key}.{spec.format.value}").read_bytes()
            return Plot(content, about["media_type"], about["title"], about["caption"],
                        about["x"], about["y"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write(self, key: str, spec: PlotSpec, plot: Plot) -> None:
        """Best effort: a full disk or a vanished job only means no cache."""
        about = {"media_type": plot.media_type, "title": plot.title, "caption": plot.caption,
                 "x": plot.x, "y": plot.y}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # The picture first: its description appearing means both are complete.
            _atomic(self.directory / f"{key}.{spec.format.value}", plot.content)
            _atomic(self.directory / f"{key}.json", json.dumps(about).encode())
            self._prune()
        except OSError:
            pass

    def _prune(self) -> None:
        kept = sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in kept[: max(len(kept) - self.limit, 0)]:
            for path in self.directory.glob(f"{old.stem}.*"):
                path.unlink(missing_ok=True)


def _atomic(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` so that readers see the whole file or none."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
