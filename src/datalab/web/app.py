"""The application factory. Nothing is built at import time: ``create_app(settings)``
returns an app whose lifespan prepares the data directory, opens the engine, and
closes it again, so one process can hold many apps on different data directories.
"""

from __future__ import annotations

import gc
import logging
from datetime import timedelta
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from datalab import __version__
from datalab.catalog import Engine
from datalab.catalog.setup import prepare_catalog
from datalab.config import Settings
from datalab.jobs import JobKind, JobLimits, JobRunner, JobStore
from datalab.accounts import AccountStore
from datalab.accounts.web import authenticators
from datalab.jobs.kinds.dl_query import make_dl_query_kind
from datalab.jobs.kinds.tap_query import make_tap_query_kind
from datalab.jobs.kinds.vospace_transfer import make_vospace_transfer_kind
from datalab.mydb import MyDB
from datalab.storage import Storage
from datalab.images import ImageIndex
from datalab.portal import STATIC as PORTAL_STATIC
from datalab.web import (
    datalink,
    dl_auth,
    dl_query,
    dl_storage,
    health,
    sia,
    soda,
    tap,
    vospace,
)
from datalab.web import portal
from datalab.web import hips
from datalab.web.context import Services
from datalab.web.errors import install_error_handlers

__all__ = ["create_app"]

log = logging.getLogger("datalab.web")


def _open_services(settings: Settings) -> Services:
    paths = settings.paths()
    paths.ensure()
    prepare_catalog(
        paths.catalog,
        demo=settings.demo,
        mock_rows=settings.demo_mock_rows,
        memory_limit=settings.engine_memory_limit,
        threads=settings.engine_threads,
        temp_dir=paths.tmp,
        images_dir=paths.images,
    )
    engine = Engine(
        paths.catalog,
        memory_limit=settings.engine_memory_limit,
        threads=settings.engine_threads,
        temp_dir=paths.tmp,
        mydb=paths.mydb,
    )
    limits = JobLimits(
        default_execution_duration=settings.tap_async_default_duration,
        max_execution_duration=settings.tap_async_max_duration,
        default_destruction=settings.tap_default_retention,
        max_destruction=settings.tap_max_retention,
        max_workers=settings.tap_async_workers,
    )
    store = JobStore(f"sqlite:///{paths.state}", paths.jobs, limits=limits)
    tables = engine.tables()
    # The kinds look up what a job's owner may read through the services built below.
    kinds: dict[str, JobKind] = {
        "tap": make_tap_query_kind(engine, lambda owner: svc.visible_for(owner), settings),
        "dlquery": make_dl_query_kind(
            engine,
            lambda owner: svc.visible_for(owner),
            lambda *args: svc.save_to_mydb(*args),
            settings,
            lambda user, path, chunks: svc.storage.write(user, path, chunks),
        ),
        "vospace": make_vospace_transfer_kind(lambda: svc.storage, settings),
    }
    runner = JobRunner(store, kinds, limits)
    svc = Services(
        settings=settings,
        engine=engine,
        jobs=store,
        runner=runner,
        accounts=AccountStore(
            f"sqlite:///{paths.state}",
            token_lifetime=timedelta(seconds=settings.auth_token_lifetime),
            max_failures=settings.auth_max_failures,
            lockout=timedelta(seconds=settings.auth_lockout),
        ),
        mydb=MyDB(engine),
        storage=Storage(
            paths.storage,
            f"sqlite:///{paths.state}",
            quota_bytes=settings.storage_quota or None,
        ),
        images=ImageIndex.from_engine(engine, paths.images),
        schemas=engine.schemas(),
        tables=tables,
    )
    runner.start()
    return svc


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = await anyio.to_thread.run_sync(_open_services, settings)
        app.state.services = svc
        app.state.authenticators = authenticators(svc.accounts)
        # What start-up built (modules, catalog metadata, caches) lives as long as the
        # server: set it aside from the collector, whose full passes over it would
        # otherwise stall a request for milliseconds now and then.
        gc.collect()
        gc.freeze()
        log.info("Data Lab ready, data directory %s", settings.paths().home)
        try:
            yield
        finally:
            app.state.services = None
            svc.close()

    app = FastAPI(
        title="Data Lab",
        version=__version__,
        description="Astronomical catalogs and images, queried in ADQL and SQL.",
        lifespan=lifespan,
    )
    app.state.services = None
    install_error_handlers(app)
    # Routes are matched in this order: the query services that clients call in
    # loops come first, the portal's pages after them.
    app.include_router(health.router)
    app.include_router(tap.router)
    app.include_router(dl_query.router)
    app.include_router(dl_auth.router)
    app.include_router(portal.router)
    app.mount("/static/portal", StaticFiles(directory=PORTAL_STATIC), name="portal-static")
    app.include_router(dl_storage.router)
    app.include_router(vospace.router)
    app.include_router(sia.router)
    app.include_router(soda.router)
    app.include_router(datalink.router)
    app.include_router(hips.router)
    return app
