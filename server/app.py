"""create_app(settings): the Litestar application: routes, middleware, lifespan, and the static UI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_404_NOT_FOUND
from litestar.types import ControllerRouterHandler

from server.api.bases import prepare_base_policy
from server.api.body import StrictJSONRequest, StrictStructSchemaPlugin
from server.api.diagnostics import diagnostics, report_client
from server.api.errors import EXCEPTION_HANDLERS
from server.api.health import health
from server.api.inference import play_policy, warm_policy
from server.api.llm import list_providers, save_api_key, select_provider
from server.api.models import ModelsController
from server.api.policy import draft_commands, generate_policy
from server.api.preferences import get_preferences, put_preferences
from server.api.preview import preview_job
from server.api.rewards import get_vocabulary, prepare_checks, prepare_status, validate_program
from server.api.scenes import ScenesController
from server.api.training import TrainingController
from server.inference.service import InferenceService
from server.llm.service import LLMService
from server.policies.library import PolicyLibrary
from server.rewards.checker import RewardChecker
from server.scenes.registry import SceneRegistry
from server.security import API_PREFIX, LocalAccessGuard, refusal
from server.services import Services
from server.settings import Settings
from server.storage.database import Database
from server.training.manager import TrainingManager

AnyRequest = Request[Any, Any, Any]

log = logging.getLogger(__name__)

_UI_MISSING = """<!doctype html><title>Robocoach</title>
<p>The user interface has not been built. Run <code>make run</code> (it builds <code>ui/dist</code>).</p>"""


def _not_found(settings: Settings, request: AnyRequest, exc: NotFoundException) -> Response[object]:
    """API paths answer JSON; every other path is a client-side route of the single-page UI."""
    refused = refusal(request.scope, settings)
    if refused is not None:  # unrouted paths never met the middleware; refuse them the same way
        return Response({"status_code": refused[0], "detail": refused[1]}, status_code=refused[0])
    path = request.url.path
    index = settings.ui_dist / "index.html"
    # A missing file (a name with an extension, e.g. a stale /assets/*.js) must 404, not get the page:
    # answering it with index.html hides a broken build behind a blank window.
    is_file_request = "." in path.rsplit("/", 1)[-1]
    is_api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
    if is_api or is_file_request or not index.is_file():
        body: dict[str, object] = {"status_code": HTTP_404_NOT_FOUND, "detail": exc.detail}
        if exc.extra:
            body["extra"] = exc.extra
        return Response(body, status_code=HTTP_404_NOT_FOUND)
    return Response(index.read_bytes(), media_type="text/html", status_code=200)


# Request handlers take the services they use as typed parameters, by these names (Litestar's dependency
# injection); the one untyped read of `app.state` is here.
def _services(state: State) -> Services:
    services: Services = state.services
    return services


def _settings(services: NamedDependency[Services]) -> Settings:
    return services.settings


def _database(services: NamedDependency[Services]) -> Database:
    return services.database


def _scenes(services: NamedDependency[Services]) -> SceneRegistry:
    return services.scenes


def _rewards(services: NamedDependency[Services]) -> RewardChecker:
    return services.rewards


def _llm(services: NamedDependency[Services]) -> LLMService:
    return services.llm


def _policies(services: NamedDependency[Services]) -> PolicyLibrary:
    return services.policies


def _training(services: NamedDependency[Services]) -> TrainingManager:
    return services.training


def _inference(services: NamedDependency[Services]) -> InferenceService:
    return services.inference


_PROVIDERS: dict[str, Callable[..., Any]] = {
    "services": _services,
    "settings": _settings,
    "database": _database,
    "scenes": _scenes,
    "rewards": _rewards,
    "llm": _llm,
    "policies": _policies,
    "training": _training,
    "inference": _inference,
}
DEPENDENCIES = {name: Provide(provider, sync_to_thread=False) for name, provider in _PROVIDERS.items()}


def create_app(settings: Settings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = Services.open(settings)
        app.state.services = services
        services.start(build_scenes=settings.build_scenes_on_start)
        try:
            yield
        finally:
            await services.close()

    def not_found(request: AnyRequest, exc: NotFoundException) -> Response[object]:
        return _not_found(settings, request, exc)

    handlers: list[ControllerRouterHandler] = [
        health,
        diagnostics,
        report_client,
        get_preferences,
        put_preferences,
        ScenesController,
        get_vocabulary,
        validate_program,
        prepare_checks,
        prepare_status,
        list_providers,
        select_provider,
        save_api_key,
        generate_policy,
        draft_commands,
        TrainingController,
        ModelsController,
        prepare_base_policy,
        play_policy,
        warm_policy,
        preview_job,
    ]
    if (settings.ui_dist / "index.html").is_file():
        handlers.append(
            create_static_files_router(path="/", directories=[settings.ui_dist], html_mode=True, name="ui")
        )
    else:
        log.warning("UI not built at %s; serving a placeholder page", settings.ui_dist)

        from litestar import get

        @get("/", media_type="text/html", sync_to_thread=False, include_in_schema=False)
        def placeholder() -> str:
            return _UI_MISSING

        handlers.append(placeholder)

    return Litestar(
        route_handlers=handlers,
        middleware=[LocalAccessGuard(settings)],
        request_class=StrictJSONRequest,
        lifespan=[lifespan],
        state=State({"settings": settings}),  # for tests and tools that hold only the app
        dependencies=DEPENDENCIES,
        exception_handlers={**EXCEPTION_HANDLERS, NotFoundException: not_found},
        openapi_config=OpenAPIConfig(title="Robocoach", version="0.1.0", path="/api/schema"),
        plugins=[StrictStructSchemaPlugin()],
        # The launcher owns logging (a file in the state dir, token redacted); Litestar must not replace it.
        logging_config=None,
        debug=False,
    )
