# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""runbook.rollback.alertmanager: an Event-Driven Ansible source receiving Alertmanager's webhook.

Alertmanager posts a group of alerts (``{"status", "groupKey", "receiver", "commonLabels", "alerts": [...]}``);
each alert becomes one event: ``{"alert": {status, labels, annotations, startsAt, endsAt, fingerprint, ...},
"group": {status, groupKey, receiver, commonLabels}, "meta": {"endpoint": <path>}}``.

Arguments:
    host   the address to listen on (127.0.0.1)
    port   the port (5000)
    token  when set, a request must carry ``Authorization: Bearer <token>`` (Alertmanager's
           http_config.authorization); others are answered 401 and dropped

A body that is not Alertmanager's (not JSON, no list of alerts) is answered 400 and dropped.

Example:
    sources:
      - runbook.rollback.alertmanager:
          host: 127.0.0.1
          port: 5000
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from aiohttp import web

GROUP_KEYS = ("status", "groupKey", "receiver", "commonLabels", "externalURL")


def events(body: Any, endpoint: str) -> list[dict]:
    """The events of one Alertmanager notification; ValueError when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise ValueError("not an Alertmanager notification: no list of alerts")
    group = {key: body[key] for key in GROUP_KEYS if key in body}
    return [
        {"alert": alert, "group": group, "meta": {"endpoint": endpoint}}
        for alert in body["alerts"]
        if isinstance(alert, dict) and isinstance(alert.get("labels"), dict)
    ]


async def _receive(request: web.Request) -> web.Response:
    token = request.app["token"]
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), ("Bearer %s" % token).encode()):
            return web.json_response({"error": "unauthorized"}, status=401)
    try:
        body = json.loads(await request.text())
        found = events(body, request.match_info.get("endpoint", ""))
    except ValueError as exc:
        return web.json_response({"error": str(exc)[:200]}, status=400)
    for event in found:
        await request.app["queue"].put(event)
    return web.json_response({"events": len(found)}, status=202)


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    app = web.Application()
    app["queue"] = queue
    app["token"] = str(args.get("token") or "")
    app.add_routes([web.post("/{endpoint:.*}", _receive)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, str(args.get("host") or "127.0.0.1"), int(args.get("port") or 5000))
    await site.start()
    try:
        await asyncio.Future()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    # Try it by hand: python alertmanager.py, then POST an Alertmanager notification to 127.0.0.1:5000.

    class _Print(asyncio.Queue):
        async def put(self, item):
            print(json.dumps(item))

    asyncio.run(main(_Print(), {"port": 5000}))
