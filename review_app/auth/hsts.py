"""``Strict-Transport-Security`` on every response — the UI, the API, health, metrics and
static files — when the app is served over HTTPS (``RULEBOOK_SECURE_COOKIES=1``), so that a
browser never again sends the session cookie, or anything else, over plain HTTP to this
host. Without it (plain-HTTP development on 127.0.0.1) no response carries the header: a
browser would otherwise refuse the plain-HTTP site for a year.

The value is ``max-age=31536000; includeSubDomains``. Not ``preload``: joining the browsers'
preload list is a commitment for the whole domain that only its owner can make, at the proxy.
"""

from __future__ import annotations

from flask import current_app
from werkzeug.wrappers import Response

__all__ = ["add_hsts"]


def add_hsts(response: Response) -> Response:
    """``after_request``: add the header the configuration asks for (``HSTS``, set by
    :func:`review_app.session_config`), if any."""
    value = current_app.config.get("HSTS")
    if value:
        response.headers.setdefault("Strict-Transport-Security", str(value))
    return response
