"""Reading a ruleset document from YAML or JSON text (JSON is YAML 1.2).

The loader is PyYAML's safe loader, made stricter: a key repeated in a mapping is an error
(RB001), and YAML 1.2 floats such as ``1e-3`` read as numbers. Text over
:data:`~rules.core.document.model.MAX_DOCUMENT_BYTES` or not UTF-8 is refused before parsing.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from rules.core.document.model import MAX_DOCUMENT_BYTES, Document
from rules.core.document.parse import parse_document
from rules.errors import DocumentError, Problem

__all__ = ["load_document"]


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and reads YAML 1.2 floats such as ``1e-3``."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise DocumentError(
                "the document is not valid YAML",
                [
                    Problem(
                        "RB001",
                        f"line {mark.line + 1}, column {mark.column + 1}",
                        f"duplicate key {key!r}: each key may appear once in a mapping",
                    )
                ],
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_document(text: str | bytes) -> Document:
    """Read a ruleset document from YAML or JSON text and parse it."""
    if isinstance(text, bytes):
        if len(text) > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                "the document is too large",
                [Problem("RB002", "", f"at most {MAX_DOCUMENT_BYTES} bytes are accepted")],
            )
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(
                "the document is not UTF-8",
                [Problem("RB001", f"byte {exc.start}", "invalid UTF-8; save the file as UTF-8")],
            ) from exc
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DocumentError(
            "the document is not valid YAML or JSON",
            [Problem("RB001", where, str(exc.problem or exc))],
        ) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(
            "the document is not valid YAML or JSON", [Problem("RB001", "", str(exc))]
        ) from exc
    except RecursionError:
        # PyYAML composes nested collections recursively; no ruleset nests anywhere near this.
        raise DocumentError(
            "the document is nested too deeply",
            [
                Problem(
                    "RB001",
                    "document",
                    "lists or mappings nest hundreds of levels deep; a ruleset needs a few "
                    "(conditions at most 12)",
                )
            ],
        ) from None
    return parse_document(data)
