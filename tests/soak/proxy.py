#!/usr/bin/python3
"""The soak test's fault-injecting TCP proxy.

    proxy.py --seed N --stats FILE [--log FILE] [--ctrl-rate P]
             [--data-rate P] [--listen 127.0.0.2] [--upstream 127.0.0.1]
             --map NAME CTRL_PORT PASV_LO PASV_HI [--map ...]

Listens on LISTEN:CTRL_PORT and on LISTEN:PASV_LO..PASV_HI of every map
and forwards each connection to UPSTREAM on the same port. The FTP
server behind it gives LISTEN as its PASV address (and EPSV carries no
address), so control and data connections, plain or TLS, all cross the
proxy without it reading a byte of FTP.

Each new connection gets a fault with probability --ctrl-rate (control
ports) or --data-rate (passive ports), armed to fire once a random number
of bytes (log-uniform; 0 now and then: at accept) has crossed it either
way:

  reset   both sides are reset (SO_LINGER 0), whatever the proxy still
          held is dropped
  close   the client side gets a FIN (after the bytes before the trigger),
          the server side a reset, so that neither can mistake the cut
          for a clean end of an upload
  stall   nothing moves for 0.5-8 s; then, if both sides are still there
          (poll, POLLRDHUP) the bytes flow on, otherwise both are reset
          and what was held is dropped, as a black hole would

When the server is down (killed by the soak) a connection is reset at
once (counted as "refused", not as a fault). Prints "ready" once it
listens. The stats file is JSON, rewritten every second and at SIGTERM:
{"connections": {"ctrl": N, "data": N}, "faults": {"ctrl.reset": N, ...},
"refused": N, "seed": N}. --log gets one line per fault fired.
"""
import argparse
import asyncio
import json
import math
import os
import random
import select
import signal
import socket
import struct
import sys
import time

HIGH_WATER = 1 << 20
LOW_WATER = 256 << 10
MAX_TRIGGER = {"ctrl": 256 << 10, "data": 6 << 20}


class Stats:
    def __init__(self, seed):
        self.seed = seed
        self.connections = {"ctrl": 0, "data": 0}
        self.faults = {}
        self.refused = 0
        self.active = 0

    def fault(self, name):
        self.faults[name] = self.faults.get(name, 0) + 1

    def json(self):
        return {"seed": self.seed, "connections": self.connections,
                "faults": self.faults, "refused": self.refused,
                "active": self.active}


def rst(transport):
    """Resets a transport's connection (SO_LINGER 0, then close)."""
    if transport is None or transport.is_closing():
        if transport is not None:
            transport.abort()
        return
    sock = transport.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    except OSError:
        pass
    transport.abort()


def peer_gone(transport):
    """True when the peer of transport has closed or reset (without
    reading: the proxy may have paused reading)."""
    if transport is None or transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    try:
        p = select.poll()
        p.register(sock.fileno(), select.POLLRDHUP | select.POLLERR |
                   select.POLLHUP)
        return bool(p.poll(0))
    except (OSError, ValueError):
        return True


class Side(asyncio.Protocol):
    def __init__(self, pipe, name):
        self.pipe, self.name = pipe, name
        self.transport = None
        self.other = None
        self.paused_by_peer = False

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        if self.name == "client":
            self.pipe.accepted()

    def data_received(self, data):
        self.pipe.forward(self, data)

    def eof_received(self):
        self.pipe.eof(self)
        return True         # half-close: keep the other direction

    def connection_lost(self, exc):
        self.pipe.lost(self, exc)

    def pause_writing(self):
        if self.other and self.other.transport:
            self.other.paused_by_peer = True
            self.pipe.update_reading()

    def resume_writing(self):
        if self.other and self.other.transport:
            self.other.paused_by_peer = False
            self.pipe.update_reading()


class Pipe:
    serial = 0

    def __init__(self, proxy, kind, server, port):
        Pipe.serial += 1
        self.id = Pipe.serial
        self.proxy, self.kind, self.server, self.port = (proxy, kind, server,
                                                         port)
        self.client = Side(self, "client")
        self.up = Side(self, "server")
        self.client.other, self.up.other = self.up, self.client
        self.bytes = 0
        self.fault = None
        self.trigger = None
        self.fired = False
        self.stalled = False
        self.dead = False
        self.eofs = set()
        self.held = []          # (to side, bytes or None: EOF) in a stall
        self.early = []
        self.t0 = time.monotonic()
        rng = proxy.rng
        rate = proxy.ctrl_rate if kind == "ctrl" else proxy.data_rate
        if rng.random() < rate:
            self.fault = rng.choice(("reset", "reset", "close", "stall"))
            if rng.random() < 0.08:
                self.trigger = 0
            else:
                hi = MAX_TRIGGER[kind]
                self.trigger = int(math.exp(rng.uniform(0, math.log(hi))))
            self.stall_s = rng.uniform(0.5, 8.0)
            self.stall_resets = rng.random() < 0.3

    # -- setting up
    def accepted(self):
        st = self.proxy.stats
        st.connections[self.kind] += 1
        st.active += 1
        if self.fault and self.trigger == 0 and self.fault != "stall":
            self.fire()
            return
        # asyncio starts reading after connection_made() whatever it did:
        # pause once that has happened; forward() keeps what comes before
        loop = asyncio.get_running_loop()
        loop.call_soon(self.update_reading)
        asyncio.ensure_future(self.connect())

    async def connect(self):
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self.up,
                                         self.proxy.upstream, self.port)
        except OSError:
            self.proxy.stats.refused += 1
            self.kill()
            return
        if self.dead:
            rst(self.up.transport)
            return
        if self.fault and self.trigger == 0:
            self.fire()         # a stall at once; else it is over
            if self.dead:
                return
        early, self.early = self.early, []
        for data in early:
            self.forward(self.client, data)
        if "client" in self.eofs and not self.dead:
            if self.stalled:
                self.held.append((self.up, None))
            else:
                self.up.transport.write_eof()
        self.update_reading()

    # -- moving bytes
    def update_reading(self):
        connecting = self.up.transport is None
        for s in (self.client, self.up):
            t = s.transport
            if t is None or t.is_closing() or s.name in self.eofs:
                continue
            if self.stalled or s.paused_by_peer or connecting:
                t.pause_reading()
            else:
                t.resume_reading()

    def forward(self, side, data):
        if self.dead:
            return
        dst = side.other.transport
        if dst is None:
            self.early.append(data)      # the server is being connected
            return
        if self.stalled:
            self.held.append((side.other, data))
            return
        if self.fault and not self.fired and \
                self.bytes + len(data) >= self.trigger:
            n = self.trigger - self.bytes
            if n > 0:
                dst.write(data[:n])
            self.bytes = self.trigger
            if self.fault == "stall" and data[n:]:
                self.held.append((side.other, data[n:]))
            self.fire()
            return
        self.bytes += len(data)
        if dst is not None and not dst.is_closing():
            dst.write(data)

    def eof(self, side):
        self.eofs.add(side.name)
        dst = side.other.transport
        if dst is None:
            return          # passed on once the server is connected
        if dst is not None and not dst.is_closing() and dst.can_write_eof():
            dst.write_eof()
        if len(self.eofs) == 2:
            self.finish()

    def lost(self, side, exc):
        if self.dead:
            return
        other = side.other.transport
        if exc is not None:
            # the peer reset: pass it on
            self.kill()
        elif other is not None and not other.is_closing():
            if side.name not in self.eofs:
                self.eofs.add(side.name)
                if other.can_write_eof():
                    other.write_eof()
            if len(self.eofs) == 2 or self.kind == "data":
                other.close()
                self.finish()
        else:
            self.finish()

    def finish(self):
        if not self.dead:
            self.dead = True
            self.proxy.stats.active -= 1
            for s in (self.client, self.up):
                if s.transport is not None and not s.transport.is_closing():
                    s.transport.close()

    def kill(self):
        if not self.dead:
            self.dead = True
            self.proxy.stats.active -= 1
        rst(self.client.transport)
        rst(self.up.transport)

    # -- faults
    def fire(self):
        self.fired = True
        name = "%s.%s" % (self.kind, self.fault)
        self.proxy.stats.fault(name)
        self.proxy.log("%.3f conn %d %s %s port %d at byte %d after %.2fs%s"
                       % (time.time(), self.id, self.server, name, self.port,
                          self.bytes, time.monotonic() - self.t0,
                          " for %.1fs" % self.stall_s
                          if self.fault == "stall" else ""))
        if self.fault == "reset":
            self.kill()
        elif self.fault == "close":
            self.dead = True
            self.proxy.stats.active -= 1
            t = self.client.transport
            if t is not None and not t.is_closing():
                t.close()
            rst(self.up.transport)
        else:
            self.stalled = True
            self.update_reading()
            asyncio.get_running_loop().call_later(self.stall_s, self.unstall)

    def unstall(self):
        if self.dead:
            return
        gone = (peer_gone(self.client.transport) or
                (self.up.transport is not None and
                 peer_gone(self.up.transport)))
        if gone or self.stall_resets:
            self.proxy.log("%.3f conn %d stall ends: %s" % (
                time.time(), self.id, "a side left, reset" if gone
                else "reset"))
            self.kill()
            return
        self.stalled = False
        held, self.held = self.held, []
        for to, data in held:
            if to.transport is None or to.transport.is_closing():
                continue
            if data is None:
                to.transport.write_eof()
            else:
                self.bytes += len(data)
                to.transport.write(data)
        self.update_reading()


class Proxy:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.ctrl_rate = args.ctrl_rate
        self.data_rate = args.data_rate
        self.upstream = args.upstream
        self.stats = Stats(args.seed)
        self.stats_path = args.stats
        self.logf = open(args.log, "a", buffering=1) if args.log else None

    def log(self, line):
        if self.logf:
            self.logf.write(line + "\n")

    def write_stats(self):
        tmp = self.stats_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.stats.json(), f)
        os.replace(tmp, self.stats_path)

    def factory(self, kind, server, port):
        return lambda: Pipe(self, kind, server, port).client


async def amain(args):
    proxy = Proxy(args)
    loop = asyncio.get_running_loop()
    servers = []
    for name, cport, lo, hi in args.map:
        ports = [("ctrl", int(cport))] + [("data", p) for p in
                                           range(int(lo), int(hi) + 1)]
        for kind, port in ports:
            srv = await loop.create_server(proxy.factory(kind, name, port),
                                           args.listen, port,
                                           reuse_address=True, backlog=64)
            servers.append(srv)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    while not stop.is_set():
        proxy.write_stats()
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
    proxy.write_stats()
    for srv in servers:
        srv.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--log")
    ap.add_argument("--ctrl-rate", type=float, default=0.2)
    ap.add_argument("--data-rate", type=float, default=0.05)
    ap.add_argument("--listen", default="127.0.0.2")
    ap.add_argument("--upstream", default="127.0.0.1")
    ap.add_argument("--map", nargs=4, action="append", required=True,
                    metavar=("NAME", "CTRL_PORT", "PASV_LO", "PASV_HI"))
    args = ap.parse_args()
    asyncio.run(amain(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
