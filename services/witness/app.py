"""The witness's FastAPI app: `POST /add-checkpoint` and what it runs on."""

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from services.witness.service import Refused, Witness
from services.witness.settings import WitnessSettings
from services.witness.storage import Storage
from shared.problems import install_problem_handlers, problem_response, problem_responses
from shared.tlog.witness_protocol import SIZE_MEDIA_TYPE

TEXT = "text/plain; charset=utf-8"


def create_app(settings: WitnessSettings | None = None) -> FastAPI:
    """Build the witness app from its settings."""
    settings = settings or WitnessSettings()
    storage = Storage(settings.database_path)
    witness = Witness(signer=settings.signer(), logs=settings.watched(), storage=storage)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage.create()
        try:
            yield
        finally:
            storage.close()

    interactive = settings.environment == "development"
    app = FastAPI(
        title="Ketenpas witness",
        description="Cosigns a log's checkpoints that extend what it saw (C2SP tlog-witness).",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if interactive else None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.state.witness = witness

    @app.post(
        "/add-checkpoint",
        response_class=Response,
        summary="Submit a checkpoint with a consistency proof; get a cosignature",
        responses={
            200: {"content": {TEXT: {"schema": {"type": "string"}}}},
            409: {"content": {SIZE_MEDIA_TYPE: {"schema": {"type": "string"}}}},
            **problem_responses(400, 403, 404, 413, 422),
        },
    )
    async def add_checkpoint(request: Request) -> Response:
        """C2SP tlog-witness add-checkpoint."""
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                return problem_response(413, "body_too_large", "the request body is too large")
        try:
            lines = await witness.add_checkpoint(bytes(body))
        except Refused as refused:
            if refused.status == 409:
                held = f"{refused.held_size}\n"
                return Response(held, status_code=409, media_type=SIZE_MEDIA_TYPE)
            return problem_response(refused.status, refused.code, refused.reason)
        return Response(lines, media_type=TEXT)

    @app.get("/", summary="Who this witness is")
    async def about() -> dict[str, object]:
        """The witness's name, cosigner key and the logs it watches."""
        return {
            "name": witness.signer.name,
            "key": witness.signer.verifier().vkey,
            "logs": sorted(witness.logs),
        }

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=problem_responses(503))
    async def readyz() -> Response:
        """Readiness: the witness's storage answers."""
        try:
            await storage.held("")
        except sqlite3.Error:
            return problem_response(503, "not_ready", "the witness's storage does not answer")
        return Response('{"status":"ready"}', media_type="application/json")

    return app
