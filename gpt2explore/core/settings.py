"""Settings: the value of every registered sampler, checked once, where they enter.

`Settings(temperature=0.7, top_k=40, min_p=0.1)` holds one value per sampler of the registry
(gpt2explore.core.registry), the others at their "off" value, and the rule set (`semantics`:
"hf", transformers' warpers, or "openai", OpenAI's sample.py, which knows only temperature,
top-k and top-p). Values are checked when Settings are made, never again inside the maths;
NumPy numbers, Fractions and big ints arrive as plain floats and ints. Settings are immutable,
hashable and compare by value.
"""
from __future__ import annotations

from . import registry
from .registry import SEMANTICS, shown

DEFAULT_SEMANTICS = "hf"


class Settings:
    """How a step's logits become its distribution (defaults: every stage off but the model)."""

    __slots__ = ("values", "semantics", "_key")

    def __init__(self, temperature=1.0, top_k=0, top_p=1.0, semantics: str = DEFAULT_SEMANTICS, **more):
        given = dict(temperature=temperature, top_k=top_k, top_p=top_p, **more)
        unknown = [k for k in more if k not in registry.names()]
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}; the settings are "
                             f"{', '.join(['semantics', *registry.names()])}")
        if semantics not in SEMANTICS:
            raise ValueError(f"semantics must be one of {', '.join(SEMANTICS)}, got {semantics!r}")
        values = {}
        for s in registry.samplers():
            values[s.name] = s.check(given[s.name]) if s.name in given else s.off
        if semantics == "openai":
            extra = {s.name: values[s.name] for s in registry.samplers() if not s.openai and values[s.name] != s.off}
            if extra:
                names = ", ".join(f"{k}={shown(v)}" for k, v in extra.items())
                raise ValueError(f"semantics='openai' follows OpenAI's sample.py, which knows only temperature, "
                                 f"top_k and top_p; got {names}: use semantics='hf' for the newer samplers")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "semantics", semantics)
        object.__setattr__(self, "_key", (semantics, tuple(sorted(values.items()))))

    def __getattr__(self, name):
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        try:
            return registry.get(name).off  # a sampler registered after these settings were made
        except ValueError:
            raise AttributeError(f"Settings has no setting {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("Settings are immutable: use settings.replace(...)")

    def __eq__(self, other) -> bool:
        return isinstance(other, Settings) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __reduce__(self):
        return (_rebuild, (self.as_dict(),))

    def replace(self, temperature=None, top_k=None, top_p=None, semantics=None, **more) -> "Settings":
        """A copy with the given values changed; None keeps the current one."""
        values = self.as_dict()
        for key, value in dict(temperature=temperature, top_k=top_k, top_p=top_p, semantics=semantics,
                               **more).items():
            if key not in values and key not in registry.names():
                raise ValueError(f"unknown setting {key!r}; the settings are {', '.join(values)}")
            if value is not None:
                values[key] = value
        return Settings(**values)

    def as_dict(self) -> dict:
        """Every setting by name: temperature, top_k, top_p, semantics, then the other samplers
        in the registry's order."""
        out = {name: getattr(self, name) for name in ("temperature", "top_k", "top_p")}
        out["semantics"] = self.semantics
        for s in registry.samplers():
            out.setdefault(s.name, getattr(self, s.name))
        return out

    @property
    def uses_context(self) -> bool:
        """Whether an active stage reads the tokens so far (repetition penalty, no-repeat n-grams)."""
        return any(s.reads_context and getattr(self, s.name) != s.off for s in registry.samplers())

    def changed(self) -> dict:
        """The settings that differ from the defaults (for captions and the CLI), in the
        registry's order, semantics last."""
        out = {s.name: getattr(self, s.name) for s in registry.samplers() if getattr(self, s.name) != s.off}
        if self.semantics != DEFAULT_SEMANTICS:
            out["semantics"] = self.semantics
        return out

    def __repr__(self) -> str:
        inside = ", ".join(f"{k}={shown(v)}" for k, v in self.changed().items())
        return f"Settings({inside})"


def _rebuild(values: dict) -> Settings:
    return Settings(**values)


def describe(settings) -> str:
    """'T=0.7, top-k=40, no top-p, min-p=0.1, hf rules': the classic three always, then every
    other sampler the settings switch on, by its registered label. Settings or a dict of their
    values (a view's), read as they are: nothing is checked again."""
    values = settings.as_dict() if isinstance(settings, Settings) else dict(settings)
    temperature, top_k, top_p = (values.get(k, registry.get(k).off) for k in ("temperature", "top_k", "top_p"))
    t = "greedy (T=0)" if temperature == 0 else f"T={temperature:g}"
    k = "no top-k" if top_k == 0 else f"top-k={top_k}"
    p = "no top-p" if top_p >= 1 else f"top-p={top_p:g}"
    more = "".join(f", {s.label}={values[s.name]:g}" for s in registry.samplers()
                   if not s.openai and values.get(s.name, s.off) != s.off)
    return f"{t}, {k}, {p}{more}, {values.get('semantics', DEFAULT_SEMANTICS)} rules"


def defaults() -> dict:
    """Every setting's default ("off") value, by name."""
    return Settings().as_dict()

