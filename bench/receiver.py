#!/usr/bin/env python3
"""A local HTTP receiver for the posting benchmark: answers every request
after DELAY_MS (default 50) with a small JSON body, keeping connections
alive, and counts requests.

    bench/receiver.py PORT [DELAY_MS]
"""

import asyncio
import sys

count = 0


async def handle(reader, writer):
    global count
    delay = DELAY / 1000.0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(delay)
            count += 1
            body = b'{"id":"%d","ok":true}' % count
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT)
    async with server:
        await server.serve_forever()


PORT = int(sys.argv[1])
DELAY = int(sys.argv[2]) if len(sys.argv) > 2 else 50
asyncio.run(main())
