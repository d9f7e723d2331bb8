"""Serving the console, the API docs and their static files.

Every page is sent with a Content-Security-Policy that allows scripts, styles and connections
from this origin only and no inline script, so an injected ``<script>`` or ``onerror=`` does
not run and a page cannot send data elsewhere; ``frame-ancestors 'none'`` stops clickjacking.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from appliance.context import get_ctx
from appliance.errors import NotFound
from appliance.openapi import spec
from appliance.paths import web_static_dir

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Revalidated on every load (a 304 on loopback), so an upgrade is seen at once.
    "Cache-Control": "no-cache",
}


def _page(name: str) -> Response:
    return FileResponse(web_static_dir() / name, media_type="text/html", headers=_PAGE_HEADERS)


@spec("The web console", auth=False, docs=False, content_type="text/html")
async def console(request: Request) -> Response:
    if not get_ctx(request).settings.console_enabled:
        raise NotFound("the web console is turned off (console_enabled = false)")
    return _page("index.html")


@spec("Interactive API reference", auth=False, docs=False, content_type="text/html")
async def docs(request: Request) -> Response:
    return _page("docs.html")


# Swagger UI's 1.7 MB bundle takes about a second to compile and run before it draws anything
# (README, "Web console", page load), so /docs is our own page and Swagger UI the full
# explorer beside it.
@spec("The API in Swagger UI", auth=False, docs=False, content_type="text/html")
async def swagger(request: Request) -> Response:
    return _page("swagger.html")


class _Assets(StaticFiles):
    """The files under ``static/`` (ETag and 304s from StaticFiles; traversal refused)."""


@spec("Console and docs assets", auth=False, docs=False)
async def static(request: Request) -> Response:
    assets: _Assets | None = getattr(request.app.state, "web_assets", None)
    if assets is None:
        assets = request.app.state.web_assets = _Assets(directory=web_static_dir())
    path = str(request.path_params["path"])
    if path.endswith(".html"):
        raise NotFound("no such file")
    # A missing file raises Starlette's HTTPException(404): the app answers it as JSON.
    response = await assets.get_response(path, request.scope)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response


routes = [
    Route("/", console, methods=["GET"], name="console"),
    Route("/docs", docs, methods=["GET"], name="docs"),
    Route("/docs/swagger", swagger, methods=["GET"], name="swagger"),
    Route("/static/{path:path}", static, methods=["GET"], name="static"),
]
