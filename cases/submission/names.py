"""Which of a submission's names stands for each layer: aliases, an explicit map, and
"did you mean" suggestions (read from the source; the worker gets the result as a map)."""

from __future__ import annotations

import difflib
import re

from layercheck.cases import registry

# Tables other modules import, derived from the registry (cases/registry.py).
CLASS_NAMES = registry.class_names()
FUNCTION_NAMES = registry.function_names()
# Accepted spellings of each class (each record's `aliases`), compared after `normal()` (any
# case, no underscores, no "Layer" suffix): Relu, ReLU, RELU, relu_layer, ReluLayer, ... all
# read "relu".
CLASS_ALIASES = registry.aliases()


MAX_HINT_NAMES = 500  # names compared by difflib for one "did you mean" hint
MAX_HINT_NAME_CHARS = 80  # longer names are never suggested


class NameMapError(ValueError):
    """An explicit name map entry that cannot be used (unknown layer, bad syntax)."""


def normal(name: str) -> str:
    """A name as aliases are compared: lower case, no underscores, no 'layer' suffix."""
    n = name.lower().replace("_", "")
    return n[:-5] if n.endswith("layer") and len(n) > 5 else n


def canonical_names(api: str) -> dict[str, str]:
    """{layer: the name the adapters call} for the API (forward function for functional)."""
    if api == "class":
        return dict(CLASS_NAMES)
    return {k: pairs[0][0] for k, pairs in FUNCTION_NAMES.items()}


def parse_name_map(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`["conv=MyConv", "relu=ReLUish"]` (or comma-separated) as {what: name}.

    `what` is a layer (a registry name: conv, pool, ...) or one of the names the adapters
    call (Convolution, conv_forward_naive, conv_backward_naive, ...).
    """
    known = {*registry.names(), *registry.all_names()}
    out: dict[str, str] = {}
    for item in (x.strip() for text in items for x in text.split(",")):
        if not item:
            continue
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not key or not value.isidentifier():
            raise NameMapError(f"--name {item!r}: write LAYER=NAME, e.g. conv=MyConv")
        if key not in known:
            raise NameMapError(f"--name {item!r}: {key!r} is not a layer; use one of "
                               f"{', '.join(registry.names())} or a name such as Convolution, "
                               f"conv_forward_naive")
        out[key] = value
    return out


def resolve(api: str, available: set[str], explicit: dict[str, str] | None = None,
            ) -> dict[str, str]:
    """{canonical name: the submission's name} for every layer found under another name.

    Order: an explicit entry; the canonical name itself (no entry needed); an alias of
    the class API (first alias in `CLASS_ALIASES` order, exact spelling before others).
    """
    explicit = explicit or {}
    out: dict[str, str] = {}
    by_normal: dict[str, list[str]] = {}
    for n in sorted(available):
        by_normal.setdefault(normal(n), []).append(n)
    for layer, name in canonical_names(api).items():
        want = explicit.get(name) or explicit.get(layer)
        if want:
            if want != name:
                out[name] = want
            continue
        if name in available:
            continue
        if api == "class":
            hit = next((by_normal[a][0] for a in CLASS_ALIASES.get(layer, (normal(name),))
                        if a in by_normal), None)
            if hit:
                out[name] = hit
    if api == "functional":  # explicit backward names, or the forward's renamed partner
        for pairs in FUNCTION_NAMES.values():
            for fwd, bwd in pairs:
                if bwd and bwd in explicit and explicit[bwd] != bwd:
                    out[bwd] = explicit[bwd]
                elif bwd and fwd in out and "forward" in out[fwd]:
                    partner = out[fwd].replace("forward", "backward")
                    if partner in available:
                        out[bwd] = partner
    return out


def suggestions(missing: str, available: set[str], used: set[str] = frozenset()) -> list[str]:
    """Names in the submission that look like `missing` (for "did you mean X?"). Only the
    MAX_HINT_NAMES names closest in length are compared letter by letter (difflib), so a
    file of thousands of decoy names costs milliseconds, not seconds."""
    pool = {normal(n): n for n in sorted(available - used)
            if not n.startswith("__") and len(n) <= MAX_HINT_NAME_CHARS}
    want = normal(missing)
    nearest = sorted(pool, key=lambda k: (abs(len(k) - len(want)), k))[:MAX_HINT_NAMES]
    close = difflib.get_close_matches(want, nearest, n=3, cutoff=0.6)
    words = set(re.findall(r"[a-z]+", re.sub(r"([A-Z])", r" \1", missing).lower()))
    close += [k for k in pool if k not in close and len(k) > 2
              and any(w.startswith(k) or k.startswith(w) for w in words if len(w) > 3)]
    return [pool[k] for k in close][:3]


def did_you_mean(missing: str, available: set[str], used: set[str] = frozenset()) -> str:
    """'; did you mean X? (if so: --name NAME=X)' or ''."""
    hits = suggestions(missing, available, used)
    if not hits:
        return ""
    shown = " or ".join(hits)
    return f"; did you mean {shown}? (if so: --name {missing}={hits[0]})"
