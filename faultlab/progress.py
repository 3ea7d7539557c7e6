"""A progress bar on stderr for long runs: ``run(scenario, progress=bar())``.

``bar()`` gives None (no bar) when the stream is not a terminal; otherwise a
callable taking the fraction of simulated time done, which draws nothing
for the first second of wall time (short runs stay quiet) and then a tqdm
bar if tqdm is installed, else one line of its own redrawn in place.
"""
from __future__ import annotations

import sys
import time


def bar(stream=None, after_s=1.0, label="simulated time"):
    stream = sys.stderr if stream is None else stream
    if not getattr(stream, "isatty", lambda: False)():
        return None
    return _Bar(stream, after_s, label)


class _Bar:
    def __init__(self, stream, after_s, label):
        self.stream, self.after_s, self.label = stream, after_s, label
        self.t0 = time.monotonic()
        self.tqdm = None
        self.shown = False

    def __call__(self, fraction: float) -> None:
        if not self.shown:
            if time.monotonic() - self.t0 < self.after_s and fraction < 1.0:
                return
            if fraction >= 1.0:
                return                          # done within the quiet second: nothing to show
            self.shown = True
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.tqdm = tqdm(total=100, desc=self.label, unit="%", file=self.stream, leave=False)
        percent = int(round(fraction * 100))
        if self.tqdm is not None:
            self.tqdm.update(percent - self.tqdm.n)
            if fraction >= 1.0:
                self.tqdm.close()
            return
        width = 40
        done = int(width * fraction)
        end = "\r" if fraction < 1.0 else "\r" + " " * (width + len(self.label) + 12) + "\r"
        self.stream.write(f"\r{self.label} [{'#' * done}{'.' * (width - done)}] {percent:3d}%")
        self.stream.write(end if fraction >= 1.0 else "")
        self.stream.flush()
