"""create_app: the FastAPI application over shared resources (no settings read here)."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from web.resources import WebResources
from web.routes import dashboard, games, health, models, play

STATIC = Path(__file__).parent / "static"


def plotly_script() -> Path | None:
    """plotly.js as the plotly package ships it (located, not imported): the charts are
    served by the app itself, so the dashboard works with no internet access."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.exists() else None


def create_app(resources: WebResources) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        resources.close()

    app = FastAPI(title="Cartridge", summary="Play the trained models; the API the page uses.",
                  lifespan=lifespan)
    app.state.resources = resources
    for module in (health, games, models, play, dashboard):
        app.include_router(module.router)
    charts = plotly_script()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/play", include_in_schema=False)
    def play_page() -> FileResponse:
        return FileResponse(STATIC / "play.html")

    @app.get("/", include_in_schema=False)
    @app.get("/dashboard", include_in_schema=False)
    def dashboard_page() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        if charts is None:
            return Response("plotly is not installed: install the web extra", 404)
        return FileResponse(charts, media_type="text/javascript",
                            headers={"Cache-Control": "max-age=86400"})

    @app.middleware("http")
    async def count_requests(request: Request, call_next) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        resources.metrics.requests.labels(path, str(response.status_code)).inc()
        return response

    return app
