"""The floor of the sample service's stack, for `service_throughput.py` to compare it with.

`GET /` makes the sample's two calls (Redis `INCR` of the visits counter, then PostgreSQL's
upsert of today's visits row returning `now()`, the same SQL) through the same pools, built by
the sample's own factories from the same settings (sizes, timeouts, TLS, AUTH, the connection
check), and answers the same JSON body, on Starlette and uvicorn. Nothing else: no access log,
no middleware or exception handlers of its own, no health routes, no dependency monitor. What
the sample spends beyond this is what its own code costs.

    cd template/service && uv run python ../../benchmarks/service_floor.py   # reads the same env
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# The sample's package, so that the pools cannot drift from the sample's.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "template" / "service"))
from app.settings import Settings
from app.stores import RECORD_VISIT, postgres_pool, redis_client


def create_floor(settings: Settings) -> Starlette:
    pool = postgres_pool(settings)
    client = redis_client(settings)
    key = f"{settings.service_name}:visits"

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=False)
        yield
        await client.aclose()
        await pool.close()

    async def root(_request: Request) -> JSONResponse:
        visits = int(await client.incr(key))
        async with pool.connection() as conn:
            cursor = await conn.execute(RECORD_VISIT, {"day": None})
            row = await cursor.fetchone()
        assert row is not None
        return JSONResponse(
            {
                "service": settings.service_name,
                "visits": visits,
                "visits_today": row[0],
                "database_time": row[1].isoformat(),
            },
            headers={"Cache-Control": "no-store"},
        )

    return Starlette(routes=[Route("/", root, methods=["GET"])], lifespan=lifespan)


def main() -> None:
    settings = Settings.from_env()
    # One process, as the sample with its default WEB_CONCURRENCY of 1, on the same HTTP stack
    # (uvicorn picks uvloop and httptools for both). Like the sample: no server header and no
    # proxy headers middleware.
    uvicorn.run(
        create_floor(settings),
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
