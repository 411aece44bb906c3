"""Checks Concord through a documented reverse-proxy site, for
scripts/check-nginx and scripts/check-nginx-cluster:

    through_proxy.py single PORT
    through_proxy.py cluster PORT PUBLIC_URL ACCESS_LOG NODE_ADDRESS...

`single`: the API, readiness, the web client's page and a gateway session
work through the proxy on PORT. `cluster`: the same through the load
balancer, every node is ready with its backends, a message sent through
one node reaches gateway sessions on the others, and a dropped session
resumes through the balancer with what it missed. ACCESS_LOG is nginx's
log of `METHOD URI STATUS UPSTREAM` lines, which says what each node
served.
"""

import asyncio
import json
import sys
import time

import aiohttp

# A generous deadline for anything to happen; never a measure of speed.
DEADLINE = 30
GUILDS = 1 << 0
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15


async def expect(reply, status):
    """The JSON body of `reply`, which must have `status`."""
    text = await reply.text()
    assert reply.status == status, (str(reply.url), reply.status, text)
    return json.loads(text) if text else None


async def check_http(http, base):
    """The API, readiness and the web client's page, through the proxy."""
    async with http.get(f"{base}/api/v10/gateway") as reply:
        gateway = await expect(reply, 200)
    async with http.get(f"{base}/readyz") as reply:
        await expect(reply, 200)
    async with http.get(f"{base}/") as reply:
        assert reply.status == 200, reply.status
        assert reply.content_type == "text/html", reply.content_type
        assert "/static/js/main.js" in await reply.text()
    return gateway["url"]


async def register(http, base, name):
    body = {"username": name, "password": f"password of {name}", "email": f"{name}@example.org"}
    async with http.post(f"{base}/api/v10/auth/register", json=body) as reply:
        return (await expect(reply, 201))["token"]


async def call(http, method, url, token, body, status=200):
    async with http.request(method, url, json=body, headers={"Authorization": token}) as reply:
        return await expect(reply, status)


async def receive(ws):
    message = await ws.receive(timeout=DEADLINE)
    assert message.type == aiohttp.WSMsgType.TEXT, (message.type, message.data)
    return json.loads(message.data)


async def dispatch(ws, kind):
    """The next dispatch of type `kind`, skipping others."""
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        payload = await receive(ws)
        if payload["op"] == 0 and payload["t"] == kind:
            return payload
    raise AssertionError(f"no {kind} within {DEADLINE} s")


async def connect(http, url, tag):
    """A gateway socket at `url` that has seen HELLO. `tag` is a query
    parameter the server ignores, so the proxy's log tells sockets apart."""
    ws = await http.ws_connect(f"{url}/?v=10&encoding=json&socket={tag}")
    hello = await receive(ws)
    assert hello["op"] == 10, hello
    return ws


async def identify(ws, token, intents):
    properties = {"os": "linux", "browser": "check", "device": "check"}
    await ws.send_json({"op": 2, "d": {"token": token, "intents": intents, "properties": properties}})
    return await dispatch(ws, "READY")


async def single(port):
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        await check_http(http, base)
        token = await register(http, base, "proxied")
        ws = await connect(http, base, "single")
        await identify(ws, token, GUILDS | GUILD_MESSAGES)
        await ws.close()
    print("nginx: API, readiness, the web client's page and gateway work through the documented site")


def served_by(access_log, tags):
    """The upstream that served each tagged gateway socket, from nginx's
    log (a WebSocket is logged once it has closed)."""
    give_up = time.monotonic() + DEADLINE
    while True:
        found = {}
        with open(access_log) as log:
            for line in log:
                method, uri, status, upstream = line.split()[:4]
                for tag in tags:
                    if method == "GET" and uri.endswith(f"&socket={tag}") and status == "101":
                        found[tag] = upstream
        if len(found) == len(tags) or time.monotonic() > give_up:
            return found
        time.sleep(0.1)


def sent_by(access_log, channel):
    """The upstreams that served messages sent to `channel`, in order."""
    with open(access_log) as log:
        return [
            line.split()[3]
            for line in log
            if line.startswith(f"POST /api/v10/channels/{channel}/messages ")
        ]


async def cluster(port, public_url, access_log, nodes):
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        assert await check_http(http, base) == public_url, "GET /gateway gives the balancer's address"
        for node in nodes:
            async with http.get(f"http://{node}/readyz") as reply:
                checks = {c["name"]: c["ok"] for c in (await expect(reply, 200))["checks"]}
            for backend in ("postgres", "nats", "redis"):
                assert checks.get(backend), (node, backend, checks)

        owner = await register(http, base, "owner")
        member = await register(http, base, "member")
        guild = await call(http, "POST", f"{base}/api/v10/guilds", owner, {"name": "Cluster"}, 201)
        general = next(c["id"] for c in guild["channels"] if c["type"] == 0)
        invite = await call(http, "POST", f"{base}/api/v10/channels/{general}/invites", owner, {})
        await call(http, "POST", f"{base}/api/v10/invites/{invite['code']}", member, {})

        # One socket per node: consecutive connections go round the nodes.
        intents = GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT
        sockets, readies = [], []
        for n in range(len(nodes)):
            ws = await connect(http, public_url, n)
            ready = await identify(ws, member, intents)
            assert ready["d"]["resume_gateway_url"] == public_url, ready["d"]["resume_gateway_url"]
            sockets.append(ws)
            readies.append(ready)
        path = f"{base}/api/v10/channels/{general}/messages"
        sent = await call(http, "POST", path, owner, {"content": "across nodes"})
        seqs = []
        for ws in sockets:
            seen = await dispatch(ws, "MESSAGE_CREATE")
            assert seen["d"]["id"] == sent["id"], seen
            seqs.append(seen["s"])

        # The first socket drops (a close that keeps its session), misses
        # a message, and resumes through the balancer at resume_gateway_url.
        await sockets[0].close(code=4000)
        missed = await call(http, "POST", path, owner, {"content": "while away"})
        ws = await connect(http, readies[0]["d"]["resume_gateway_url"], "resumed")
        session = readies[0]["d"]["session_id"]
        await ws.send_json({"op": 6, "d": {"token": member, "session_id": session, "seq": seqs[0]}})
        replayed = await dispatch(ws, "MESSAGE_CREATE")
        assert (replayed["d"]["id"], replayed["s"]) == (missed["id"], seqs[0] + 1), replayed
        await dispatch(ws, "RESUMED")
        for socket in sockets[1:] + [ws]:
            await socket.close()

    tags = [str(n) for n in range(len(nodes))]
    nodes_of = served_by(access_log, tags + ["resumed"])
    assert len(nodes_of) == len(tags) + 1, ("not every socket is in the log", nodes_of)
    first_sent = sent_by(access_log, general)[0]
    elsewhere = [tag for tag in tags if nodes_of[tag] != first_sent]
    assert elsewhere, ("every socket was on the sending node; the balancer did not spread them", nodes_of)
    print(
        f"nginx cluster: {len(nodes)} nodes ready with postgres, nats and redis; a message sent through "
        f"{first_sent} reached sockets on {', '.join(sorted(set(nodes_of[t] for t in tags)))}; "
        f"a session dropped on {nodes_of['0']} resumed through the balancer on {nodes_of['resumed']}"
    )


if __name__ == "__main__":
    mode, port = sys.argv[1], sys.argv[2]
    if mode == "single":
        asyncio.run(single(port))
    else:
        asyncio.run(cluster(port, sys.argv[3], sys.argv[4], sys.argv[5:]))
