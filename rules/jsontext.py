"""``json.dumps`` with its default settings, for the decision path's hot spots, without its
per-call cost.

``json.dumps(value)`` builds a new C encoder on every call (``JSONEncoder.iterencode``); a
decision encodes five JSON texts (its four JSON columns and its answer), each a small object
or list, for which that set-up is most of the cost: about 3.3 against 2.1 µs for an object of
six facts and 2.4 against 0.5 µs for a list of two rule ids (``timeit``, this machine). An
encoder here is built once and called for each value: the same text as ``json.dumps(value,
default=default)``, byte for byte (a property test holds them equal), except that a value
that contains itself is not detected (the decision path's values come from ``json.loads``
and the engine, which never make one): ``check_circular`` is off, so that one encoder can be
shared between threads (the C encoder keeps no other state of a call's).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any

__all__ = ["dumps", "encoder"]


def encoder(default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """A function returning ``json.dumps(value, default=default)``'s text for ``value``."""
    make = getattr(_encoder, "c_make_encoder", None)  # not in typeshed
    if make is None:  # pragma: no cover - a Python without json's C accelerator

        def slow(value: Any) -> str:
            return json.dumps(value, default=default)

        return slow
    base = json.JSONEncoder()
    encode = make(
        None,  # no markers: check_circular off
        default or base.default,
        _encoder.encode_basestring_ascii,  # ensure_ascii, as json.dumps
        None,  # indent
        ": ",
        ", ",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )

    def dumps(value: Any) -> str:
        if isinstance(value, str):  # the C encoder takes containers; a string alone is plain
            return _encoder.encode_basestring_ascii(value)
        return "".join(encode(value, 0))

    return dumps


dumps = encoder()
