"""Runs localstripe on 127.0.0.1 only (its own command line listens on every interface), on a
port of the kernel's choosing, and prints "listening on PORT" once it accepts connections.

usage: localstripe_server.py
"""
import asyncio

from aiohttp import web
import localstripe.server


async def main():
    runner = web.AppRunner(localstripe.server.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
