"""Reading DMN and TCK XML safely: defusedxml parsing (no DTD, no entities), elements matched by
local name.

Matching by local name lets one reader serve every DMN namespace (1.1 to 1.5) and TCK files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException, DTDForbidden

from rules.errors import DmnError, Problem

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["MAX_XML_BYTES", "XSI", "child", "children", "local", "parse_xml", "text_of", "xsi"]

MAX_XML_BYTES = 16 * 1024 * 1024
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def parse_xml(source: bytes | str, what: str) -> Element:
    """The root element of an XML document, or DmnError saying why it cannot be read."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    if len(data) > MAX_XML_BYTES:
        raise DmnError(
            f"the {what} is too large",
            [Problem("RB601", what, f"at most {MAX_XML_BYTES} bytes are accepted")],
        )
    try:
        # forbid_dtd: any DOCTYPE, even one that declares nothing, is refused before the parser
        # reads past it, so no entity is ever defined or expanded.
        root: Any = safe_et.fromstring(data, forbid_dtd=True)
    except safe_et.ParseError as exc:
        raise DmnError(
            f"the {what} is not well-formed XML", [Problem("RB601", what, str(exc))]
        ) from exc
    except DTDForbidden as exc:
        raise DmnError(
            f"the {what} uses XML features that are refused for safety",
            [
                Problem(
                    "RB601",
                    what,
                    f"it declares a document type (<!DOCTYPE {exc.name}>): DTDs and entities "
                    "are not accepted; remove the DOCTYPE (DMN and TCK files need none)",
                )
            ],
        ) from exc
    except DefusedXmlException as exc:
        raise DmnError(
            f"the {what} uses XML features that are refused for safety",
            [Problem("RB601", what, f"{type(exc).__name__}: DTDs and entities are not accepted")],
        ) from exc
    except (LookupError, ValueError) as exc:
        # After defusedxml's own refusals (DTDForbidden is a ValueError too). expat reads the
        # declaration's encoding: one Python does not know (LookupError), or a multi-byte one
        # expat cannot decode (ValueError).
        raise DmnError(
            f"the {what} declares an encoding that cannot be read",
            [
                Problem(
                    "RB601",
                    what,
                    f'{exc}: save the file as UTF-8 and declare encoding="UTF-8" (or none)',
                )
            ],
        ) from exc
    return root  # type: ignore[no-any-return]


def local(tag: str) -> str:
    """An element or attribute name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def children(element: Element, name: str) -> list[Element]:
    """Direct children with the given local name, in document order."""
    return [c for c in element if isinstance(c.tag, str) and local(c.tag) == name]


def child(element: Element | None, name: str) -> Element | None:
    """The first direct child with the given local name."""
    if element is None:
        return None
    found = children(element, name)
    return found[0] if found else None


def text_of(element: Element | None, name: str = "text") -> str | None:
    """The text of the named child (``<text>`` by default), or None."""
    found = child(element, name)
    if found is None:
        return None
    return found.text or ""


def xsi(element: Element, name: str) -> str | None:
    """An ``xsi:`` attribute such as ``type`` or ``nil``."""
    return element.get(f"{{{XSI}}}{name}")
