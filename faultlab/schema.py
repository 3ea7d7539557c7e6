"""Every input's type, unit and allowed range, declared once, and the checks that read them.

A field of a scenario dataclass declares its ``Spec`` in its metadata::

    latency_ms: float = spec(18.0, "real", "ms", low=0.001, high=60_000.0)

and everything that takes a value from a user reads that one declaration:
``Scenario.check`` (through ``check_fields``), the presets' parameters
(``workloads.PARAMS`` points at the same specs), the command line
(``--set`` parses and explains with them), the widgets (their sliders'
ranges) and the kernel lab (``Spec.check`` on its own parameters).

A refusal is an ``InputError`` (a ValueError) whose text starts with the
name the user wrote -- ``until_ms: ...``, ``threads[reader].think_us: ...``,
``disk_ms: ...`` -- and says what is allowed.

The ranges are of two sorts. Some are what the quantity can be (a
probability is in [0, 1]); the rest bound what one run may cost, so that
no value makes a run that cannot end or cannot fit in memory: a think time
is 0 or at least ``THINK_FLOOR_US`` (below that, a thread that loops until
the run ends would hardly move simulated time: Zeno), a run at most
``MAX_UNTIL_MS``, a read-around window at most ``MAX_RA_PAGES``, and the
operations a scenario can run, estimated up front, at most ``MAX_RUN_OPS``
(``Scenario.check``; an explorer shortens its run to ``EXPLORER_MAX_OPS``).
Those are bounds on cost, not facts about Linux.
"""
from __future__ import annotations

import dataclasses
import math
import numbers

from .errors import InputError

THINK_FLOOR_US = 0.01          # 10 ns; float time resolves ~0.5 ns even an hour into a run
MAX_UNTIL_MS = 3_600_000.0     # one simulated hour
MAX_RUN_OPS = 2_000_000        # operations one run may be estimated to make (a minute or two of wall time)
EXPLORER_MAX_OPS = 10_000      # ... and one explorer answer (well under a second); longer runs are shortened
MAX_FILE_PAGES = 1 << 28       # 1 TiB of 4 KiB pages
MAX_RA_PAGES = 4096            # 16 MiB read-around; every page of a window is allocated
MAX_EVICT_PAGES = 1 << 16      # pages one fadvise call examines, one by one
MAX_COST_US = 1_000_000.0      # any one CPU cost: a second
MAX_TIME_US = MAX_UNTIL_MS * 1000.0
MAX_COUNT = 10 ** 9
MAX_SIGNALS = 256              # signals one scenario may send


def refuse(field: str, text: str) -> InputError:
    """The error for ``field``: raise what this returns."""
    return InputError(f"{field}: {text}")


def plain(x) -> str:
    """A number as a person writes it: 3,600,000 and 0.01, not 3.6e+06."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        x = int(x)
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 100_000 else str(x)
    return f"{x:g}"


@dataclasses.dataclass(frozen=True)
class Spec:
    """One input: its type (``kind``), unit and allowed values.

    kind      "real", "int", "bool", "choice", "text" or "items"
    unit      "ms", "us", "pages", ... ("" for none)
    low, high the closed range of a number (``low_open``: low itself excluded)
    zero_ok   0 is allowed as well, below ``low`` (a think time of 0 or >= the floor)
    choices   the allowed values of a "choice" (or a function returning them)
    none_ok   None is allowed, meaning ``none_means``
    empty_means  what the choice "" means, if it is one
    ui        (low, high, step) a slider offers, inside the allowed range
    item      "items": the dataclass of each element of a tuple (each checked by
              its own fields' specs, named ``name[i].field``); ``high`` the most
    """

    kind: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    zero_ok: bool = False
    choices: object = ()
    none_ok: bool = False
    none_means: str = ""
    empty_means: str = ""
    ui: tuple | None = None
    help: str = ""
    item: type | None = None

    def options(self) -> tuple:
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def allowed(self) -> str:
        """What the input may be, in words."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(str(c) if c != "" else f'"" ({self.empty_means})'
                                         for c in self.options())
        elif self.kind == "text":
            text = "a non-empty string"
        elif self.kind == "items":
            text = f"a tuple of at most {plain(self.high)} faultlab.{self.item.__name__}"
        else:
            what = "a whole number" if self.kind == "int" else "a number"
            unit = f" of {self.unit}" if self.unit else ""
            if self.low_open:
                rng = f"greater than {plain(self.low)} and at most {plain(self.high)}"
            else:
                rng = f"from {plain(self.low)} to {plain(self.high)}"
            text = f"{what}{unit} {rng}"
            if self.zero_ok:
                text = f"0 or {text}"
        if self.none_ok:
            text += f", or None ({self.none_means})" if self.none_means else ", or None"
        return text

    def check(self, name: str, value):
        """``value`` if allowed (numpy scalars as Python numbers), else raise naming ``name``."""
        if value is None and self.none_ok:
            return None
        bad = refuse(name, f"must be {self.allowed()}, got {value!r}")
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if type(value).__name__ == "bool_":             # numpy.bool_
                return bool(value)
            raise bad
        if self.kind == "choice":
            try:                                            # 250.0 is not the choice 250, True not 1
                if any(type(value) is type(c) and value == c for c in self.options()):
                    return value
            except (TypeError, ValueError):                 # uncomparable
                pass
            raise bad
        if self.kind == "text":
            if isinstance(value, str) and value:
                return value
            raise bad
        if self.kind == "items":
            if not isinstance(value, tuple) or len(value) > self.high:
                raise bad
            for i, x in enumerate(value):
                if not isinstance(x, self.item):
                    raise refuse(f"{name}[{i}]", f"must be a faultlab.{self.item.__name__}, got {x!r}")
                check_fields(x, f"{name}[{i}].")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise bad
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                raise bad
            value = x = int(value)
        else:
            try:
                x = float(value)
            except OverflowError:                       # an int beyond any float
                raise bad from None
            if math.isnan(x):
                raise bad
            value = int(value) if isinstance(value, numbers.Integral) else x    # 2000 stays 2000, not 2000.0
        if self.zero_ok and value == 0:
            return value
        low_ok = self.low is None or (x > self.low if self.low_open else x >= self.low)
        if not (low_ok and (self.high is None or x <= self.high)):
            raise bad
        return value

    def parse(self, name: str, text: str):
        """A value typed on a command line, in this spec's type (then ``check`` it)."""
        t = text.strip()
        if self.none_ok and t.lower() == "none":
            return None
        if self.kind == "bool":
            if t.lower() in ("1", "true", "yes", "on"):
                return True
            if t.lower() in ("0", "false", "no", "off"):
                return False
        elif self.kind == "int":
            try:
                return int(t)
            except ValueError:
                pass
        elif self.kind == "real":
            try:
                return float(t)
            except ValueError:
                pass
        elif self.kind == "choice":
            for c in self.options():                   # a number among the choices is typed as its digits
                if str(c) == t:
                    return c
            return t
        elif self.kind == "text":
            return t
        raise refuse(name, f"must be {self.allowed()}, got {text!r}")


def spec(default, kind, unit="", **kw):
    """A dataclass field with ``default`` and its Spec in the metadata."""
    return dataclasses.field(default=default, metadata={"spec": Spec(kind, unit, **kw)})


def spec_of(cls, name: str) -> Spec:
    """The Spec declared on field ``name`` of dataclass ``cls``."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata["spec"]
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def check_fields(obj, prefix: str = "") -> None:
    """Check every field of ``obj`` that declares a Spec, naming it ``prefix + name``."""
    for f in dataclasses.fields(obj):
        s = f.metadata.get("spec")
        if s is not None:
            s.check(prefix + f.name, getattr(obj, f.name))


def normalize(obj) -> None:
    """In ``__post_init__``: numpy scalars (what ``np.arange`` hands out) become
    the Python numbers they stand for, so runs and records hold plain numbers."""
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, bool) or type(v) in (int, float, str) or v is None:
            continue
        if type(v).__name__ == "bool_":
            object.__setattr__(obj, f.name, bool(v))
        elif isinstance(v, numbers.Integral):
            object.__setattr__(obj, f.name, int(v))
        elif isinstance(v, numbers.Real):
            object.__setattr__(obj, f.name, float(v))


# -- shapes used by more than one field --------------------------------------------

def think(default, help="user time between two operations", ui=None):
    """A think time: 0, or from the floor up to the longest run."""
    return spec(default, "real", "us", low=THINK_FLOOR_US, high=MAX_TIME_US, zero_ok=True, ui=ui, help=help)


def start(default=0.0):
    return spec(default, "real", "us", low=0.0, high=MAX_TIME_US, help="when the thread starts")


def count(default=None, what="operations"):
    return spec(default, "int", "", low=1, high=MAX_COUNT, none_ok=True, none_means="until the run ends",
                help=f"{what} to make")


def name(default):
    return spec(default, "text", help="the thread's name in the trace and the summary")


# -- the small helpers the kinds' cross-field checks use ------------------------------

def number(name, value):
    """A real number (numpy's included), not a bool, not NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise refuse(name, f"must be a number, got {value!r}")


def whole(name, value):
    """A whole number (numpy's included), not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise refuse(name, f"must be a whole number, got {value!r}")


def positive(name, value, integer=False):
    """A finite number greater than 0 (a whole one with ``integer``)."""
    number(name, value)
    if integer:
        whole(name, value)
    if not value > 0 or math.isinf(value):
        raise refuse(name, f"must be a finite number greater than 0, got {value!r}")


def at_least(name, value, low, integer=False):
    """A finite number >= ``low`` (a whole one with ``integer``)."""
    number(name, value)
    if integer:
        whole(name, value)
    if value < low or math.isinf(value):
        raise refuse(name, f"must be a finite number >= {low}, got {value!r}")
