"""Live job updates over WebSocket: `/ws/jobs/?project=<id>` (every job of a project) or `?job=<id>` (one job,
with its log tail). The consumer follows the job rows in the database, so it works across processes in
both run shapes, with or without Redis. Membership and persona are checked on connect.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import close_old_connections

from apps.accounts import personas
from apps.accounts.selectors import project_get_for_user
from apps.jobs.models import Job
from apps.jobs.selectors import job_get_for_user, job_list_for_user, job_state


class JobStreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.poller: asyncio.Task | None = None
        user = self.scope.get("user")
        if (
            user is None
            or not user.is_authenticated
            or not await database_sync_to_async(user.has_perm)(personas.USE_STUDIO)
        ):
            await self.close(code=4403)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.job_id = int(query["job"][0]) if "job" in query else None
            self.project_id = int(query["project"][0]) if "project" in query else None
            await database_sync_to_async(self._authorise)(user)
        except Exception:  # noqa: BLE001 - bad ids and foreign objects look the same: not found
            await self.close(code=4404)
            return
        if self.job_id is None and self.project_id is None:
            await self.close(code=4400)
            return
        await self.accept()
        self.seen: dict[int, str] = {}
        self.poller = asyncio.create_task(self._poll())

    def _authorise(self, user: Any) -> None:
        self.user = user
        if self.job_id is not None:
            job_get_for_user(user=user, pk=self.job_id)
        if self.project_id is not None:
            project_get_for_user(user=user, pk=self.project_id)

    def _changes(self) -> list[dict[str, Any]]:
        close_old_connections()
        if self.job_id is not None:
            jobs: list[Job] = list(Job.objects.filter(pk=self.job_id))
        else:
            jobs = list(job_list_for_user(user=self.user).filter(project_id=self.project_id or 0)[:50])
        out = []
        for job in jobs:
            stamp = f"{job.updated_at.isoformat()}|{job.status}|{job.progress}"
            if self.seen.get(job.pk) != stamp:
                self.seen[job.pk] = stamp
                out.append(job_state(job, with_log=self.job_id is not None))
        return out

    async def _poll(self) -> None:
        try:
            while True:
                for state in await database_sync_to_async(self._changes)():
                    await self.send_json({"type": "job", "job": state})
                await asyncio.sleep(settings.JOB_STREAM_POLL_S)
        except asyncio.CancelledError:
            pass

    async def disconnect(self, code: int) -> None:
        poller = getattr(self, "poller", None)
        if poller is not None:
            poller.cancel()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The stream is read-only; clients only listen.
        return None
