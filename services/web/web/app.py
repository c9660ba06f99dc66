"""create_app: the FastAPI application over shared resources (no settings read here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from web.resources import WebResources
from web.routes import games, health, models, play

STATIC = Path(__file__).parent / "static"


def create_app(resources: WebResources) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        resources.close()

    app = FastAPI(title="Cartridge", summary="Play the trained models; the API the page uses.",
                  lifespan=lifespan)
    app.state.resources = resources
    for module in (health, games, models, play):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    @app.get("/play", include_in_schema=False)
    def play_page() -> FileResponse:
        return FileResponse(STATIC / "play.html")

    @app.middleware("http")
    async def count_requests(request: Request, call_next) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        resources.metrics.requests.labels(path, str(response.status_code)).inc()
        return response

    return app
