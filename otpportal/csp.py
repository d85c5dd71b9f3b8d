"""The content security policy (django-csp; issue 14).

Every response carries ``settings.CONTENT_SECURITY_POLICY``: the dashboard's policy, self
only (``default-src``, ``script-src``, ``style-src``… ``'self'``; no plugins; no framing). The dashboard needs nothing more: its JavaScript is in ``static/js``, its styles in
``static/css``, its charts and meters are inline SVG drawn with attributes (no ``style``
attribute, no inline ``<script>``), and its scripts change styles through the CSSOM only.

Two places get a policy of their own, replacing some directives (``RELAXED``):

- the admin (``/admin/``): the back office's pages carry ``<style>`` blocks and a few style
  attributes, so inline styles are allowed there; scripts stay self only (Django's admin
  has no inline script);
- the API docs (``/api/v1/docs/``): Swagger UI (drf-spectacular's sidecar, served by
  ``SpectacularSwaggerSplitView`` so that its start-up script is a file of ours, not inline)
  sets inline styles and uses ``data:`` images.
"""

from __future__ import annotations

from typing import Any

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

RELAXED: dict[str, dict[str, list[str]]] = {
    "/admin/": {"style-src": [SELF, UNSAFE_INLINE], "img-src": [SELF, "data:"]},
    "/api/v1/docs/": {"style-src": [SELF, UNSAFE_INLINE], "img-src": [SELF, "data:"]},
}


def relaxed_for(path: str) -> dict[str, list[str]] | None:
    return next((replace for prefix, replace in RELAXED.items() if path.startswith(prefix)), None)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with the admin's and the API docs' own policies."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts: PolicyParts = super().get_policy_parts(request, response, report_only)
        replace = relaxed_for(request.path_info)
        if replace is not None and not report_only:
            merged: dict[str, Any] = dict(replace)
            merged.update(parts.replace or {})  # a view's own @csp_replace still wins
            parts.replace = merged
        return parts
