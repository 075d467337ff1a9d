""" "This server does not offer it" versus "this resource is gone", against the real service.

A 404 on an endpoint the server lacks (the service's `absent_routes` switch answers exactly like
an unknown path: 404 NOT_FOUND in the envelope) degrades the feature; a 404 for a job or template
that a listing had shown, and that is gone from the listing too, is NOT_FOUND of that resource
(deleted meanwhile) and degrades nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from app.service.errors import Category, NotOffered
from app.service.phantomflow import (
    Feature,
    PhantomFlowClient,
    ResourceNotFound,
    forget_not_offered,
)
from tests.integration.server.conftest import tiny_script

from .conftest import Running

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _fresh_degradations() -> None:
    forget_not_offered()


def pf_client(service: Running, key: str, tmp_path: Path) -> PhantomFlowClient:
    return PhantomFlowClient(service.url, key, timeout=10.0, cache_dir=tmp_path / "cache")


def test_missing_account_endpoint_is_not_offered(held: Running, tmp_path: Path) -> None:
    me = held.account("pro", 100)
    held.config.absent_routes.add("account")
    answer = httpx.get(held.url + "/api/account", headers={"x-api-key": me.live_key})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"

    async def main() -> None:
        async with pf_client(held, me.live_key, tmp_path) as pf:
            await pf.list_jobs()  # headers fill the state
            account = await pf.account()
            assert not account.from_endpoint and not pf.is_offered(Feature.ACCOUNT)
            assert account.rate_limit is not None and account.rate_limit.limit == 120
            held.config.absent_routes.discard("account")
            again = await pf.account()  # remembered: no second request, still header state
            assert not again.from_endpoint

    asyncio.run(main())


def test_job_deleted_after_listing_is_not_found_not_unoffered(
    held: Running, tmp_path: Path
) -> None:
    me = held.account("pro", 100)

    async def main() -> ResourceNotFound:
        async with pf_client(held, me.live_key, tmp_path) as pf:
            accepted = await pf.render(tiny_script())
            page = await pf.list_jobs()
            assert [j.job_id for j in page.jobs] == [accepted.job_id]
            # Another process (a retention purge) removes the job between list and read.
            with sqlite3.connect(held.config.db_path) as db:
                db.execute("DELETE FROM jobs WHERE id = ?", (accepted.job_id,))
            with pytest.raises(ResourceNotFound) as caught:
                await pf.get_job(accepted.job_id)
            assert pf.is_offered(Feature.JOB_READ)
            with pytest.raises(ResourceNotFound) as cancel_caught:
                await pf.cancel_job(accepted.job_id)
            assert cancel_caught.value.was_listed is False  # forgotten once found gone
            assert pf.is_offered(Feature.JOB_CANCEL)
            return caught.value

    error = asyncio.run(main())
    assert not isinstance(error, NotOffered)
    assert (error.code, error.status, error.resource, error.was_listed) == (
        "NOT_FOUND",
        404,
        "job",
        True,
    )
    assert error.category is Category.PERMISSION and error.job_id


def test_job_never_listed_is_plain_not_found(held: Running, tmp_path: Path) -> None:
    me = held.account("pro", 100)

    async def main() -> ResourceNotFound:
        async with pf_client(held, me.live_key, tmp_path) as pf:
            with pytest.raises(ResourceNotFound) as caught:
                await pf.get_job(str(uuid.uuid4()))
            assert pf.is_offered(Feature.JOB_READ)
            return caught.value

    error = asyncio.run(main())
    assert error.code == "NOT_FOUND" and not error.was_listed


def test_listed_job_whose_single_read_is_missing_degrades_to_the_list(
    held: Running, tmp_path: Path
) -> None:
    me = held.account("pro", 100)

    async def main() -> None:
        async with pf_client(held, me.live_key, tmp_path) as pf:
            accepted = await pf.render(tiny_script())
            await pf.list_jobs()
            held.config.absent_routes.add("job_get")
            job = await pf.get_job(accepted.job_id)  # 404, but the list still shows it
            assert job.job_id == accepted.job_id and job.status == "queued"
            assert not pf.is_offered(Feature.JOB_READ)
            held.config.absent_routes.discard("job_get")
            with pytest.raises(ResourceNotFound):  # found through the list: really missing
                await pf.get_job(str(uuid.uuid4()))

    asyncio.run(main())


def test_template_deleted_after_listing_is_not_found(held: Running, tmp_path: Path) -> None:
    owner = held.account("pro", 100)
    reader = held.account("pro", 100)

    async def main() -> ResourceNotFound:
        async with (
            pf_client(held, owner.live_key, tmp_path) as mine,
            pf_client(held, reader.live_key, tmp_path) as theirs,
        ):
            template = await mine.create_template("Shared", tiny_script(), is_public=True)
            assert template.id in [t.id for t in await theirs.list_templates()]
            await mine.delete_template(template.id)
            with pytest.raises(ResourceNotFound) as caught:
                await theirs.get_template(template.id)
            assert theirs.is_offered(Feature.TEMPLATE_READ)
            return caught.value

    error = asyncio.run(main())
    assert (error.resource, error.was_listed, error.code) == ("template", True, "NOT_FOUND")
