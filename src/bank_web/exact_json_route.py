"""A FastAPI route class whose JSON bodies are read with exact decimals and a media-type check."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from bank_web import json_codec
from bank_web.problems import problem_response

_JSON_MEDIA_TYPES = ("application/json",)


class ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json_codec.loads(await self.body())
        return self._json


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in _JSON_MEDIA_TYPES or media_type.endswith("+json")


class ExactJSONRoute(APIRoute):
    """Bodies are JSON: a body of another media type, or of none named, is a 415; numbers
    arrive as Decimal, not float."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_exactly(request: Request) -> Response:
            exact = ExactJSONRequest(request.scope, request.receive)
            if await exact.body() and not is_json(exact.headers.get("content-type", "")):
                return problem_response(
                    415, "unsupported_media_type", "Request bodies are application/json."
                )
            return await handle(exact)

        return handle_exactly
