"""What the Python bots' scenarios share: their steps' reporting, and the
owner speaking over plain HTTP as a person's client would."""

import os

import aiohttp

HTTP = os.environ["CONCORD_HTTP"]
# Seconds to wait for each event a step expects.
TIMEOUT = 20


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok - {what}", flush=True)


async def owner_says(channel_id, content):
    headers = {"Authorization": os.environ["OWNER_TOKEN"]}
    async with aiohttp.ClientSession() as http:
        url = f"{HTTP}/api/v10/channels/{channel_id}/messages"
        async with http.post(url, json={"content": content}, headers=headers) as reply:
            assert reply.status == 200, await reply.text()


async def owner_votes(channel_id, message_id, answer_ids):
    """The owner votes as Discord's client does (bots cannot)."""
    path = f"/channels/{channel_id}/polls/{message_id}/answers/@me"
    status, body = await owner_request("PUT", path, {"answer_ids": answer_ids})
    assert status == 204, body


async def owner_request(method, path, body=None):
    """The owner's client calling the API: (status, JSON body or None)."""
    headers = {"Authorization": os.environ["OWNER_TOKEN"]}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, f"{HTTP}/api/v10{path}", json=body, headers=headers) as reply:
            text = await reply.text()
            return reply.status, (await reply.json() if text else None)
