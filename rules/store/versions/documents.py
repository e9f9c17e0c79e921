"""Parsed documents by hash: versions are immutable, so a parse is good forever.

Deciding looks its version's document up here on every decision (by the hash stored with the
version); a miss parses the stored canonical JSON once.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from rules.core.document import Document, parse_document
from rules.store.models import Version

__all__ = ["DocumentCache", "document_of", "documents"]


class DocumentCache:
    """Parsed documents by hash: versions are immutable, so a parse is good forever."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._docs: OrderedDict[str, Document] = OrderedDict()

    def peek(self, digest: str) -> Document | None:
        with self._lock:
            return self._docs.get(digest)

    def get(self, digest: str, text: str) -> Document:
        with self._lock:
            doc = self._docs.get(digest)
            if doc is not None:
                self._docs.move_to_end(digest)
                return doc
        doc = parse_document(json.loads(text))
        with self._lock:
            self._docs[digest] = doc
            while len(self._docs) > self.size:
                self._docs.popitem(last=False)
        return doc


documents = DocumentCache()


def document_of(version: Version) -> Document:
    """The parsed document of a version's row."""
    return documents.get(version.hash, version.document)
