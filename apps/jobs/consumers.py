"""Live job updates over WebSocket: `/ws/jobs/?project=<id>` (every job of a project) or `?job=<id>` (one job,
with its log tail). The consumer follows the job rows in the database, so it works across processes in
both run shapes, with or without Redis.

Access is checked on connect and again every JOB_STREAM_ACCESS_CHECK_S seconds while the socket is open, with the
user read afresh from the session store, the consumer's declared capability (the permission layer,
apps/accounts/permissions.py) and the same selector (`job_stream_allowed`) each time, so a sign-out,
a deactivation, a password change, a removed persona or a removed membership ends the stream within that time.
Close codes (the browser does not reconnect on 44xx, see static/js/atelier.js):
  4400 neither ?job= nor ?project= given      4401 the session no longer signs anyone in (signed out, expired,
  4403 not allowed (no studio persona; or,          deactivated, password changed): closed while streaming
       while streaming, access was lost)    4404 no such job or project among the user's (on connect)
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
from apps.accounts.permissions import missing_capability
from apps.accounts.selectors import user_for_session
from apps.jobs.models import Job
from apps.jobs.selectors import job_list_for_user, job_state, job_stream_allowed

CLOSE_BAD_REQUEST = 4400
CLOSE_SIGNED_OUT = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class JobStreamConsumer(AsyncJsonWebsocketConsumer):
    capability = personas.USE_STUDIO

    async def connect(self) -> None:
        self.poller: asyncio.Task | None = None
        user = self.scope.get("user")
        if user is None or await database_sync_to_async(missing_capability)(user, self) is not None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.job_id = int(query["job"][0]) if "job" in query else None
            self.project_id = int(query["project"][0]) if "project" in query else None
        except ValueError:
            await self.close(code=CLOSE_NOT_FOUND)  # bad ids and foreign objects look the same: not found
            return
        if self.job_id is None and self.project_id is None:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        self.user = user
        if not await database_sync_to_async(job_stream_allowed)(
            user=user, job_id=self.job_id, project_id=self.project_id
        ):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.accept()
        self.seen: dict[int, str] = {}
        self.poller = asyncio.create_task(self._poll())

    def _access_lost(self) -> int | None:
        """None while the session's user may still follow this stream, else the close code."""
        close_old_connections()
        session = self.scope.get("session")
        user = user_for_session(session_key=getattr(session, "session_key", None))
        if user is None:
            return CLOSE_SIGNED_OUT
        if missing_capability(user, self) is not None or not job_stream_allowed(
            user=user, job_id=self.job_id, project_id=self.project_id
        ):
            return CLOSE_FORBIDDEN
        self.user = user  # fresh permissions and memberships for the project stream's query
        return None

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
        loop = asyncio.get_running_loop()
        next_check = loop.time() + settings.JOB_STREAM_ACCESS_CHECK_S
        try:
            while True:
                if loop.time() >= next_check:
                    code = await database_sync_to_async(self._access_lost)()
                    if code is not None:
                        await self.close(code=code)
                        return
                    next_check = loop.time() + settings.JOB_STREAM_ACCESS_CHECK_S
                for state in await database_sync_to_async(self._changes)():
                    await self.send_json({"type": "job", "job": state})
                await asyncio.sleep(max(0.0, min(settings.JOB_STREAM_POLL_S, next_check - loop.time())))
        except asyncio.CancelledError:
            pass

    async def disconnect(self, code: int) -> None:
        poller = getattr(self, "poller", None)
        if poller is not None:
            poller.cancel()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The stream is read-only; clients only listen.
        return None
