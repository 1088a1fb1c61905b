#!/usr/bin/python3
"""A segmented download through the agent's JSON-RPC, for figure P7 of
tests/bench/run where ftpctl get has no -n yet:

    segget.py SOCKET SESSION PATH SEGMENTS LOCAL

sends transfer.get {"session", "path", "segments", "fd": 0} with LOCAL
(created or truncated) passed over SCM_RIGHTS, waits for the job's end
and exits 0 when it is done with every byte, else 1 with the reply on
standard error."""
import json
import os
import socket
import sys

TIMEOUT = 3600      # seconds: a capped 1 GiB download takes a while


def call(sock, method, params, fds):
    msg = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                      "params": params}, separators=(",", ":")).encode()
    msg += b"\n"
    n = socket.send_fds(sock, [msg], fds)
    sock.sendall(msg[n:])
    buf = b""
    while True:
        while b"\n" not in buf:
            b = sock.recv(65536)
            if not b:
                raise EOFError("the agent closed the connection")
            buf += b
        line, buf = buf.split(b"\n", 1)
        m = json.loads(line)
        if m.get("id") == 1:    # else a notification
            return m


def main():
    if len(sys.argv) != 6:
        sys.stderr.write("usage: segget.py SOCKET SESSION PATH SEGMENTS "
                         "LOCAL\n")
        return 2
    path, session, remote, segments, local = sys.argv[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.connect(path)
    fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        m = call(sock, "transfer.get", {"session": session, "path": remote,
                                        "segments": int(segments),
                                        "fd": 0}, [fd])
    finally:
        os.close(fd)
    r = m.get("result") or {}
    if r.get("state") != "done" or r.get("bytes") != r.get("total"):
        sys.stderr.write("segget.py: %s\n" % json.dumps(m))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
