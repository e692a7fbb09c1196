"""The sampler registry: every sampler declared once, and everything else generated from it.

A sampler is a stage function, the setting that switches it on (its name and "off" value),
how that value is checked, its label for people, its command-line flag and help, its slider
range, and its place in the order. Settings, the command-line flags, the widgets' controls,
figure titles, captions, provenance, bundles and the stage-by-stage view all read this table,
so a sampler registered here (yours too) works everywhere a built-in does:

    def top_a(logits, a):                          # (V,) logits -> the same, cut tokens at -inf
        p = logits.softmax(-1)
        return logits.masked_fill(p < a * p.max(-1, keepdim=True).values ** 2, float("-inf"))

    gx.register_sampler("top_a", top_a, off=0.0, range=(0.0, 1.0), label="top-a")
    run = lm.generate("Hi", top_a=0.2, seed=1)

A stage that reads the tokens so far takes a parameter named `context` (that row's token ids,
prompt first, as a list of ints); one that follows a rule
set (hf or openai) takes `semantics`. Default place: after the built-ins; `after="min_p"` puts it
right after another one. The built-ins below are declared through the same call, in
transformers' order, each naming its function in gpt2explore.core.stages: that module (and
torch with it) is imported when a stage first runs, so declaring the samplers, checking
settings and building the command line's flags need no torch.
"""
from __future__ import annotations

import functools
import inspect
import keyword
import math
import numbers
from dataclasses import dataclass
from typing import Callable

SEMANTICS = ("hf", "openai")


def shown(value) -> str:
    """A value as a person typed it, in an error message: -1.0 and 1e-40 as they are, but 0.96,
    not a float's last bits (0.9599999999999999)."""
    text = repr(value)
    if isinstance(value, float) and len(text) > 10:
        return f"{value:.6g}"
    return text


def is_real(value) -> bool:
    """A finite real number of any type (int, float, NumPy, Fraction), not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond float's range
        return False


def number_check(name: str, low: float, high: float, low_open=False, high_open=False, off_note: str = "",
                 noun: str = ""):
    """A check for a real setting in [low, high] (an end may be open); returns it as a float.
    `check.rule` holds the bounds and the sentence as data (a page checks its sliders by them)."""
    span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if high == math.inf:
        span = f"a finite number {'>' if low_open else '>='} {low:g}"
    text = f"must be {noun}{'in ' if high != math.inf else ''}{span}{' (' + off_note + ')' if off_note else ''}"

    def check(value):
        ok = is_real(value) and (low < value if low_open else low <= value) and \
            (value < high if high_open else value <= high)
        if not ok:
            raise ValueError(f"{name} {text}, got {shown(value)}")
        return float(value)
    check.rule = {"low": low, "high": None if high == math.inf else high, "low_open": low_open,
                  "high_open": high_open, "integer": False, "text": text}
    return check


def integer_check(name: str, low: int = 0, off_note: str = ""):
    """A check for an integer setting >= low (int or NumPy integer); returns it as an int.
    `check.rule` as for `number_check`."""
    text = f"must be an integer >= {low}{' (' + off_note + ')' if off_note else ''}"

    def check(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} {text}, got {shown(value)}")
        return int(value)
    check.rule = {"low": low, "high": None, "low_open": False, "high_open": False, "integer": True, "text": text}
    return check


@dataclass(frozen=True, eq=False)
class Sampler:
    """One registered sampler (see the module's docstring)."""

    name: str
    stage: Callable | str  # (logits, value[, context=][, semantics=]) -> logits; a built-in's: its name in stages
    off: object  # the value that leaves the logits unchanged
    check: Callable  # value -> the value as stored (float or int); ValueError naming it if bad
    label: str  # for people: "top-k"
    short: str  # a label of at most 14 characters, for a control
    range: tuple  # the slider's range
    step: float  # the slider's step
    help: str  # the command line's help
    integer: bool  # an int setting (top_k), else a float
    openai: bool  # known to OpenAI's sample.py rules (temperature, top-k, top-p)
    builtin: bool

    @property
    def function(self) -> Callable:
        """The stage itself (a built-in's imported from gpt2explore.core.stages on first use)."""
        return _builtin_stage(self.stage) if isinstance(self.stage, str) else self.stage

    @property
    def reads_context(self) -> bool:
        return "context" in _parameters(self.function)

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    def apply(self, logits, value, context=None, semantics: str = "hf"):
        """Run the stage on one row of logits."""
        function = self.function
        wants = _parameters(function)
        extra = {}
        if "context" in wants:
            extra["context"] = context
        if "semantics" in wants:
            extra["semantics"] = semantics
        out = function(logits, value, **extra)
        return out if self.builtin else _torch_side()[0].check_output(self.name, out, logits)


def _torch_side():
    """(gpt2explore.core.guards, gpt2explore.core.stages), both importing torch: the checks of a
    sampler's output and the built-in stages, loaded when a stage first runs."""
    from . import guards, stages

    return guards, stages


def _builtin_stage(name: str) -> Callable:
    """A built-in stage by its name in gpt2explore.core.stages."""
    return getattr(_torch_side()[1], name)


def _parameters(fn) -> frozenset:
    """The names of `fn`'s parameters (read once per function: every step of every sample asks)."""
    try:
        return _signature_names(fn)
    except TypeError:  # an unhashable callable: read it each time
        return _read_parameters(fn)


@functools.lru_cache(maxsize=1024)
def _signature_names(fn) -> frozenset:
    return _read_parameters(fn)


def _read_parameters(fn) -> frozenset:
    try:
        return frozenset(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return frozenset()


_REGISTRY: dict[str, Sampler] = {}  # in stage order


def register_sampler(name: str, stage: Callable, off=0.0, range=None, label: str | None = None,
                     check: Callable | None = None, after: str | None = None, help: str = "",
                     step: float | None = None, integer: bool | None = None, openai: bool = False,
                     short: str | None = None, replace: bool = False, _builtin: bool = False) -> Sampler:
    """Declare a sampler once; from then on it works wherever a built-in does (see the module).

    name: the setting (a Python identifier, e.g. "top_a"); stage: `(logits, value) -> logits`
    on one row (V,), taking `context=` to read the tokens so far; off: the value that switches it
    off; range: the slider's (low, high) (default: the check's bounds, or (off, 1)); label: for
    people (default: the name); check: `value -> value`, raising ValueError (default: a finite
    number, or an integer >= 0 when `off` is an int); after: the sampler it runs right after
    (default: after every other); replace: True to declare `name` again."""
    check_name(name)
    if name in _REGISTRY and not replace:
        raise ValueError(f"a sampler named {name!r} is registered already; pass replace=True to declare it again")
    if name in _REGISTRY and _REGISTRY[name].builtin and not _builtin:
        raise ValueError(f"{name!r} is a built-in sampler and cannot be replaced; register yours under another "
                         f"name (e.g. {name + '_custom'!r})")
    if not callable(stage) and not (_builtin and isinstance(stage, str)):
        raise ValueError(f"the stage of {name!r} must be a function (logits, value) -> logits, got {stage!r}")
    if after is not None and after not in _REGISTRY:
        raise ValueError(f"after={after!r} names no registered sampler; the samplers are {', '.join(_REGISTRY)}")
    integer = isinstance(off, int) and not isinstance(off, bool) if integer is None else integer
    if check is None:
        check = integer_check(name) if integer else _finite(name)
    lo, hi = range if range is not None else ((0, 10) if integer else (min(0.0, off), max(1.0, off)))
    entry = Sampler(name=name, stage=stage, off=off, check=check, label=label or name,
                    short=(short or label or name)[:14], range=(lo, hi),
                    step=step or (1 if integer else (hi - lo) / 100), help=help or f"the {label or name} sampler; "
                    f"{off!r} = off", integer=integer, openai=openai, builtin=_builtin)
    items = [(k, v) for k, v in _REGISTRY.items() if k != name]
    at = len(items) if after is None else [k for k, _ in items].index(after) + 1
    items.insert(at, (name, entry))
    _REGISTRY.clear()
    _REGISTRY.update(items)
    return entry


# names a sampler cannot take: the arguments of generate / score / sessions / Settings, and
# Settings' own attributes (a sampler named `seed` could never be set)
RESERVED = frozenset({
    "prompt", "nsamples", "batch_size", "length", "seed", "semantics", "stop_at_eos", "progress", "keep_logits",
    "first_sample", "layers", "attention", "stage_order", "context", "text", "lm", "self", "run", "device",
    "legacy", "values", "replace", "as_dict", "changed", "uses_context", "settings", "samplers", "coupling",
    "sample_index",
})


def check_name(name) -> str:
    """A sampler's name: a Python identifier, not a keyword, not an argument name of generate
    (or score, sessions, Settings)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a sampler's name must be a Python identifier (e.g. 'top_a'), got {name!r}")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ValueError(f"a sampler's name cannot be the Python keyword {name!r} (it could never be passed "
                         f"as name=...); choose another name")
    if name in RESERVED:
        raise ValueError(f"a sampler's name cannot be {name!r}: generate (or Settings) already takes an argument "
                         f"of that name, so the sampler could never be set; choose another name")
    return name


def _finite(name):
    def check(value):
        if not is_real(value):
            raise ValueError(f"{name} must be a finite number, got {shown(value)}")
        return float(value)
    return check


def unregister_sampler(name: str) -> None:
    """Remove a sampler you registered (the built-ins stay)."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ValueError(f"no sampler named {name!r} is registered")
    if entry.builtin or name in BUILTINS:
        raise ValueError(f"{name!r} is built in and stays")
    del _REGISTRY[name]


def samplers() -> list[Sampler]:
    """Every registered sampler, in stage order."""
    return list(_REGISTRY.values())


def get(name: str) -> Sampler:
    if name not in _REGISTRY:
        raise ValueError(f"unknown setting {name!r}; the settings are {', '.join(['semantics', *_REGISTRY])}")
    return _REGISTRY[name]


def names() -> list[str]:
    return list(_REGISTRY)


@dataclass(frozen=True)
class Stage:
    """One active stage of some settings: its sampler and value."""

    sampler: Sampler
    value: object
    semantics: str = "hf"

    @property
    def name(self) -> str:
        return self.sampler.name

    @property
    def label(self) -> str:
        return f"{self.sampler.label} {self.value:g}"

    def apply(self, logits, context=None):
        return self.sampler.apply(logits, self.value, context=context, semantics=self.semantics)


def check_order(stage_order) -> list[str]:
    """A permutation of (a subset of) the sampler names; the rest keep the registry's order after it."""
    if stage_order is None:
        return names()
    order = list(stage_order)
    unknown = [s for s in order if s not in _REGISTRY]
    if unknown or len(set(order)) != len(order):
        raise ValueError(f"stage_order must list stage names from {', '.join(_REGISTRY)} at most once each, "
                         f"got {stage_order!r}")
    return order + [s for s in _REGISTRY if s not in order]


def active_stages(settings, stage_order=None) -> list[Stage]:
    """The stages the settings switch on, in order (the registry's, transformers' for the
    built-ins, unless `stage_order`)."""
    out = []
    for name in check_order(stage_order):
        value = settings.values.get(name, _REGISTRY[name].off)
        if value != _REGISTRY[name].off:
            out.append(Stage(_REGISTRY[name], value, settings.semantics))
    return out


# ---- the built-ins, in transformers' order ------------------------------------------------
REPETITION_PENALTY_RANGE = (1e-6, 1e6)  # beyond, the penalised logits overflow or underflow to nonsense


def _builtin(name, stage, off, label, check, rng, step, help, openai=False, short=None):
    """Declare a built-in; `stage` names its function in gpt2explore.core.stages."""
    register_sampler(name, stage, off=off, label=label, check=check, range=rng, step=step, help=help, openai=openai,
                     short=short, _builtin=True)


_builtin("repetition_penalty", "repetition_penalty", 1.0, "repetition penalty",
         number_check("repetition_penalty", *REPETITION_PENALTY_RANGE, off_note="1.0 = off, > 1 against repeats, "
                      "< 1 for them", noun="a number "), (0.5, 2.0), 0.05,
         "> 1 makes tokens already in the text less likely; 1.0 = off", short="rep. penalty")
_builtin("no_repeat_ngram_size", "no_repeat_ngram", 0, "no-repeat n-gram",
         integer_check("no_repeat_ngram_size", 0, "0 = off"), (0, 6), 1, "never repeat an n-gram of this size; 0 = off",
         short="no-repeat n")
_builtin("temperature", "temperature", 1.0, "temperature",
         number_check("temperature", 0.0, math.inf, off_note="0 = greedy"), (0.0, 3.0), 0.05,
         "1.0 = the model's own distribution, < 1 less random, > 1 more random. 0 = greedy decoding (always the "
         "most likely token, lowest id on ties). The original scripts divided the logits by zero instead, which "
         "yields inf/NaN logits rather than greedy decoding; here 0 is greedy.", openai=True)
_builtin("top_k", "top_k", 0, "top-k", integer_check("top_k", 0, "0 = no limit"), (0, 200), 1,
         "keep the k most likely tokens; 0 = no limit (default)", openai=True)
_builtin("top_p", "top_p", 1.0, "top-p",
         number_check("top_p", 0.0, 1.0, low_open=True, off_note="1.0 = no limit"), (0.01, 1.0), 0.01,
         "keep the smallest set of tokens with this much probability; 1.0 = no limit", openai=True)
_builtin("min_p", "min_p", 0.0, "min-p", number_check("min_p", 0.0, 1.0, off_note="0 = off"), (0.0, 0.5), 0.01,
         "drop tokens below min_p x the top token's probability; 0 = off")
_builtin("typical_p", "typical", 1.0, "typical",
         number_check("typical_p", 0.0, 1.0, low_open=True, off_note="1.0 = off"), (0.05, 1.0), 0.01,
         "typical sampling's mass; 1.0 = off")
_builtin("epsilon_cutoff", "epsilon", 0.0, "epsilon",
         number_check("epsilon_cutoff", 0.0, 1.0, high_open=True, off_note="0 = off"), (0.0, 0.01), 1e-4,
         "drop tokens below this probability; 0 = off")
_builtin("eta_cutoff", "eta", 0.0, "eta",
         number_check("eta_cutoff", 0.0, 1.0, high_open=True, off_note="0 = off"), (0.0, 0.01), 1e-4,
         "drop tokens below min(eta, sqrt(eta) exp(-entropy)); 0 = off")
BUILTINS = frozenset(_REGISTRY)  # they stay: never replaced, never removed
