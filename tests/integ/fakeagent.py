#!/usr/bin/python3
"""Scripted stand-in for ftpd-agent, for testing libftpagent without the
daemon: canned replies over the real wire protocol (NDJSON JSON-RPC 2.0 on
a Unix socket, fds with SCM_RIGHTS).

    fakeagent.py [--user] [-f] [--no-events] -S SOCKET
                 (the daemon's own options, so it can stand in for
                 autostart; --no-events: answer events.subscribe like an
                 agent older than events, -32601)

Besides the real method names it answers test.* methods that misbehave on
purpose. Background transfers (wait:false) become jobs that every
connection can follow with job.* and events.subscribe; test.no_events
makes a connection answer events.subscribe like an old agent (-32601). Stdlib only. Exits when idle for IDLE_EXIT seconds, on SIGTERM or
on test.shutdown.
"""
import json
import os
import signal
import socket
import sys
import threading
import time

IDLE_EXIT = 60
FILE_DATA = bytes(range(256)) * 40          # "/file": 10240 bytes

state_lock = threading.Lock()
cancelled_jobs = []                          # jobs cancelled by any client
job_counter = [0]
last_activity = [time.monotonic()]
no_events = [False]                          # --no-events
bg_jobs = {}                                 # id -> BgJob
subscribers = []                             # [Conn, set of ids or None]


def new_job():
    with state_lock:
        job_counter[0] += 1
        return "j%d" % job_counter[0]


def err_obj(code, message, kind, **extra):
    data = {"kind": kind}
    data.update(extra)
    return {"code": code, "message": message, "data": data}


def publish(method, obj):
    """Sends a job notification to the connections that subscribed."""
    with state_lock:
        subs = list(subscribers)
    for conn, which in subs:
        if which is None or obj["job"] in which:
            conn.notify(method, obj)


class BgJob:
    """A wait:false transfer: runs on a thread of its own."""

    def __init__(self, job, params, direction):
        self.obj = {"job": job, "state": "running", "direction": direction,
                    "session": params.get("session"),
                    "path": params.get("path"), "uid": os.getuid(),
                    "bytes": 0, "total": None, "rate": 0.0, "eta_s": None,
                    "started": time.time(), "ended": None, "attempts": 1,
                    "error": None}
        self.lock = threading.Lock()
        self.ended = threading.Event()
        self.cancel = threading.Event()

    def snapshot(self):
        with self.lock:
            return dict(self.obj)

    def progress(self, nbytes, total):
        with self.lock:
            self.obj["bytes"] = nbytes
            self.obj["total"] = total
            self.obj["rate"] = 1024.0 * 1024.0
            if total is not None:
                self.obj["eta_s"] = (total - nbytes) / (1024.0 * 1024.0)
        publish("job.progress", self.snapshot())

    def end(self, state, error=None):
        with self.lock:
            self.obj["state"] = state
            self.obj["error"] = error
            self.obj["eta_s"] = None
            self.obj["ended"] = time.time()
        publish("job.progress", self.snapshot())
        publish("job.finished", self.snapshot())
        self.ended.set()


class Conn:
    def __init__(self, sock, server):
        self.sock = sock
        self.server = server
        self.wlock = threading.Lock()
        self.last_params = None
        self.cancel = {}                     # job -> threading.Event
        self.closed = False
        self.no_events = no_events[0]        # test.no_events: an old agent

    # -- output ----------------------------------------------------------
    def send_raw(self, b):
        with self.wlock:
            if self.closed:
                return
            try:
                self.sock.sendall(b)
            except OSError:
                self.closed = True

    def send(self, obj):
        self.send_raw((json.dumps(obj, separators=(",", ":")) + "\n").encode())

    def result(self, rid, res):
        self.send({"jsonrpc": "2.0", "id": rid, "result": res})

    def error(self, rid, e):
        self.send({"jsonrpc": "2.0", "id": rid, "error": e})

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def close(self):
        with self.wlock:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- input -----------------------------------------------------------
    def run(self):
        buf = b""
        fdq = []
        try:
            while not self.closed:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(
                        self.sock, 65536, 16)
                except OSError:
                    break
                if not data:
                    break
                last_activity[0] = time.monotonic()
                fdq.extend(fds)
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    # fds ride with a message's first byte; the client
                    # sends one fd-carrying request at a time.
                    mine, fdq = fdq, []
                    self.dispatch(line, mine)
        finally:
            for fd in fdq:
                os.close(fd)
            self.close()
            self.sock.close()

    def dispatch(self, line, fds):
        try:
            req = json.loads(line)
        except ValueError:
            self.error(None, err_obj(-32700, "Parse error", "parse"))
            self.close()
            return
        method = req.get("method")
        rid = req.get("id")
        params = req.get("params", {})
        if method == "job.cancel":
            ev = self.cancel.get(params.get("job"))
            if ev is None and params.get("job") in bg_jobs:
                ev = bg_jobs[params.get("job")].cancel
            if ev is None:
                self.error(rid, err_obj(-32010, "no such job", "no_job"))
            else:
                ev.set()
                self.result(rid, {})
            return
        if method != "test.last_params":
            self.last_params = {"method": method, "params": params,
                                "nfds": len(fds)}
        t = threading.Thread(target=self.handle,
                             args=(method, rid, params, fds), daemon=True)
        t.start()

    # -- methods ---------------------------------------------------------
    def handle(self, method, rid, params, fds):
        try:
            self.handle2(method, rid, params, fds)
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def handle2(self, method, rid, params, fds):
        if method == "agent.ping":
            self.result(rid, {})
        elif method == "rpc.info":
            self.result(rid, {"name": "ftpd-agent", "version": "fake",
                              "protocol": 1, "methods": ["agent.ping"]})
        elif method == "test.last_params":
            self.result(rid, self.last_params)
        elif method == "test.echo":
            self.result(rid, params)
        elif method == "test.ftp_error":
            self.error(rid, err_obj(-32000, "550 Permission denied", "ftp",
                                    ftp_code=550,
                                    ftp_text="550 Permission denied"))
        elif method == "test.never":
            pass
        elif method == "test.slow":
            time.sleep(float(params.get("delay", 1.0)))
            self.result(rid, {"slow": True})
        elif method == "test.close":
            self.close()
        elif method == "test.close_after_reply":
            self.result(rid, {})
            time.sleep(0.05)
            self.close()
        elif method == "test.garbage":
            self.send_raw(b"this is not json\n")
        elif method == "test.ooo":
            self.result(rid + 1000, {"wrong": True})
            self.notify("session.state", {"session": "x", "state": "ready"})
            self.result(rid, {"right": True})
        elif method == "test.fds":
            for fd in fds:
                os.write(fd, b"x")
            self.result(rid, {"nfds": len(fds)})
        elif method == "test.cancelled":
            with state_lock:
                self.result(rid, list(cancelled_jobs))
        elif method == "test.shutdown":
            self.result(rid, {})
            self.server.stop()
        elif method == "session.open":
            if "badauth" in params.get("url", ""):
                self.error(rid, err_obj(-32003, "530 Login incorrect",
                                        "auth", ftp_code=530,
                                        ftp_text="530 Login incorrect"))
                return
            ca = params.get("ca_fd")
            if isinstance(ca, int) and 0 <= ca < len(fds):
                # what the passed CA descriptor holds, for the test
                self.last_params["ca_data"] = os.pread(
                    fds[ca], 65536, 0).decode("latin-1")
            self.result(rid, {"session": params.get("name", "s1"),
                              "welcome": "220 fake", "features": [],
                              "system": "UNIX", "reused": False})
        elif method in ("session.close", "fs.mkdir", "fs.remove",
                        "fs.rmdir", "fs.rename", "fs.chmod",
                        "fs.set_mtime"):
            if params.get("path") == "/missing" or \
                    params.get("from") == "/missing":
                self.error(rid, err_obj(-32005, "550 No such file",
                                        "not_found", ftp_code=550,
                                        ftp_text="550 No such file"))
                return
            self.result(rid, {})
        elif method == "ftp.quote":
            cmd = params.get("command", "")
            if cmd.upper().startswith("LIST"):
                self.error(rid, err_obj(-32602, "command: LIST opens a data "
                                        "connection", "params"))
            elif cmd.upper().startswith("BOGUS"):
                self.result(rid, {"code": 500, "text": "Unknown command"})
            else:
                # like the daemon: the text without the code
                self.result(rid, {"code": 257, "text": "\"/home\""})
        elif method == "fs.list":
            self.result(rid, {"source": "mlsd", "entries": [
                {"name": "a.txt", "type": "file", "size": 12,
                 "mtime": 1700000000, "perm": 420, "target": None},
                {"name": "dir", "type": "dir", "size": None,
                 "mtime": None, "perm": None, "target": None},
                {"name": "ln", "type": "link", "size": None,
                 "mtime": None, "perm": None, "target": "a.txt"},
                {"name": "dev", "type": "other"},
                {"name": "weird", "type": "other", "size": None,
                 "mtime": None, "perm": None, "target": None,
                 "raw": "?????????? weird line"},
            ]})
        elif method == "fs.stat":
            path = params.get("path")
            if path in ("/missing", "/up-missing"):
                self.error(rid, err_obj(-32005, "550 No such file",
                                        "not_found", ftp_code=550,
                                        ftp_text="550 No such file"))
            elif path == "/fail":
                self.error(rid, err_obj(-32000, "451 Aborted", "ftp",
                                        ftp_code=451, ftp_text="451 Aborted"))
            else:
                self.result(rid, {"name": os.path.basename(path),
                                  "type": "file", "size": 100,
                                  "mtime": None, "perm": None,
                                  "target": None})
        elif method in ("transfer.get", "transfer.put") and \
                params.get("wait") is False:
            self.transfer_bg(rid, params, fds, method == "transfer.put")
        elif method == "transfer.get":
            self.transfer_get(rid, params, fds)
        elif method == "transfer.put":
            self.transfer_put(rid, params, fds)
        elif method in ("job.status", "job.wait"):
            j = bg_jobs.get(params.get("job"))
            if j is None:
                self.error(rid, err_obj(-32010, "no such job", "no_job"))
                return
            t = params.get("timeout", 0)
            if method == "job.wait" and \
                    not j.ended.wait(t if t and t > 0 else None):
                self.error(rid, err_obj(-32004, "job %s has not ended"
                                        % params["job"], "timeout"))
                return
            self.result(rid, j.snapshot())
        elif method == "job.list":
            self.result(rid, [j.snapshot() for j in list(bg_jobs.values())])
        elif method == "events.subscribe":
            if self.no_events:
                self.error(rid, err_obj(-32601, "unknown method "
                                        "events.subscribe", "method"))
                return
            which = params.get("jobs", "all")
            with state_lock:
                subscribers.append([self, None if which == "all"
                                    else set(which)])
            self.result(rid, {})
        elif method == "test.no_events":
            self.no_events = True
            self.result(rid, {})
        elif method == "test.notify_then_reply":
            # Notifications that arrive while the caller waits for this
            # reply: three states of j90 (only the last is news), a
            # session, j90's end and another job.
            for n in (1, 2, 3):
                self.notify("job.progress", {
                    "job": "j90", "state": "running", "direction": "get",
                    "session": "s1", "path": "/a", "bytes": n,
                    "total": 3, "rate": 1.0, "error": None})
            self.notify("session.state", {"session": "s1",
                                          "state": "busy",
                                          "connections": 2, "busy": 1})
            self.notify("job.finished", {
                "job": "j90", "state": "done", "direction": "get",
                "session": "s1", "path": "/a", "bytes": 3, "total": 3,
                "rate": 1.0, "error": None})
            self.notify("job.progress", {
                "job": "j91", "state": "queued", "direction": "put",
                "session": "s1", "path": "/b", "bytes": 0,
                "total": None, "rate": 0, "error": None})
            self.notify("some.future_event", {"x": 1})
            self.result(rid, {"replied": True})
        elif method == "test.flood":
            for i in range(int(params.get("n", 5000))):
                self.notify("job.progress", {
                    "job": "f%d" % i, "state": "running", "bytes": i})
            self.notify("session.state", {"session": "s1",
                                          "state": "ready"})
            self.result(rid, {})
        elif method == "test.notify_later":
            self.result(rid, {})
            time.sleep(float(params.get("delay", 0.5)))
            self.notify("session.state", {"session": "later",
                                          "state": "closed"})
        else:
            self.error(rid, err_obj(-32601, "Method not found", "method"))

    def job_obj(self, job, params, direction, bytes_, total, state):
        return {"job": job, "state": state, "direction": direction,
                "session": params.get("session"), "path": params.get("path"),
                "bytes": bytes_, "total": total, "rate": 0 if not bytes_
                else 1024.0 * 1024.0, "error": None}

    def fd_param(self, rid, params, fds):
        idx = params.get("fd")
        if not isinstance(idx, int) or idx < 0 or idx >= len(fds):
            self.error(rid, err_obj(-32602, "fd: no such fd", "params"))
            return None
        if params.get("progress") is not True:
            self.error(rid, err_obj(-32602, "test wants progress", "params"))
            return None
        return fds[idx]

    def cancelled(self, rid, job, params, direction, done):
        with state_lock:
            cancelled_jobs.append(job)
        jo = self.job_obj(job, params, direction, done, None, "cancelled")
        self.error(rid, err_obj(-32008, "cancelled", "cancelled", job=jo))

    def mine(self, rid, jo):
        """A job object as the calling connection's progress: the agent
        names the request it answers (issue 15)."""
        jo["request"] = rid
        return jo

    def transfer_get(self, rid, params, fds):
        fd = self.fd_param(rid, params, fds)
        if fd is None:
            return
        path = params["path"]
        off = params.get("offset", 0)
        job = new_job()
        ev = threading.Event()
        self.cancel[job] = ev
        # Someone else's job first: the library must not report it.
        self.notify("job.progress", self.job_obj("other", {
            "session": "other", "path": "/x"}, "get", 999999, 999999,
            "running"))
        if path == "/file":
            data = FILE_DATA
            pos = off
            while pos < len(data):
                n = os.pwrite(fd, data[pos:pos + 4096], pos)
                pos += n
                self.notify("job.progress", self.mine(rid, self.job_obj(
                    job, params, "get", pos - off, len(data), "running")))
            self.result(rid, self.job_obj(job, params, "get", pos - off,
                                          len(data), "done"))
        elif path == "/fail":
            os.pwrite(fd, FILE_DATA[:1000], off)
            self.notify("job.progress", self.mine(rid, self.job_obj(
                job, params, "get", 1000, len(FILE_DATA), "running")))
            jo = self.job_obj(job, params, "get", 1000, len(FILE_DATA),
                              "failed")
            self.error(rid, err_obj(-32000, "426 Connection closed", "ftp",
                                    ftp_code=426,
                                    ftp_text="426 Connection closed",
                                    job=jo))
        elif path == "/slow":
            for i in range(100):
                self.notify("job.progress", self.mine(rid, self.job_obj(
                    job, params, "get", i * 10, None, "running")))
                if ev.wait(0.05):
                    self.cancelled(rid, job, params, "get", i * 10)
                    return
            self.result(rid, self.job_obj(job, params, "get", 1000, None,
                                          "done"))
        elif path == "/heartbeat":
            # 1.5 s in all, a heartbeat every 0.2 s: an inactivity
            # timeout of 0.5 s must not fire.
            for i in range(8):
                time.sleep(0.2)
                self.notify("job.progress", self.mine(rid, self.job_obj(
                    job, params, "get", 0, None, "queued")))
            self.result(rid, self.job_obj(job, params, "get", 0, None,
                                          "done"))
        elif path == "/stall":
            self.notify("job.progress", self.mine(rid, self.job_obj(
                job, params, "get", 0, None, "running")))
            if ev.wait(10):
                self.cancelled(rid, job, params, "get", 0)
        else:
            self.error(rid, err_obj(-32005, "550 No such file", "not_found",
                                    ftp_code=550))

    def transfer_bg(self, rid, params, fds, put):
        fd = params.get("fd")
        if not isinstance(fd, int) or fd < 0 or fd >= len(fds):
            self.error(rid, err_obj(-32602, "fd: no such fd", "params"))
            return
        if "progress" in params:
            self.error(rid, err_obj(-32602, "test wants no progress with "
                                    "wait:false", "params"))
            return
        job = BgJob(new_job(), params, "put" if put else "get")
        bg_jobs[job.obj["job"]] = job
        # handle() closes the passed fds when this returns: keep a copy
        myfd = os.dup(fds[fd])
        threading.Thread(target=self.run_bg, args=(job, params, myfd, put),
                         daemon=True).start()
        self.result(rid, {"job": job.obj["job"]})

    def run_bg(self, job, params, fd, put):
        try:
            self.run_bg2(job, params, fd, put)
        finally:
            os.close(fd)

    def run_bg2(self, job, params, fd, put):
        off = params.get("offset", 0)
        path = params.get("path")
        if put:
            got = 0
            while True:
                b = os.pread(fd, 4096, off + got)
                if not b:
                    break
                got += len(b)
                job.progress(got, None)
            job.end("done")
        elif path in ("/file", "/second"):
            # "/file" takes about 0.3 s, "/second" about 1 s
            step = 1024 if path == "/file" else 512
            pos = off
            while pos < len(FILE_DATA):
                if job.cancel.wait(0.03 if path == "/file" else 0.05):
                    job.end("cancelled", err_obj(-32008, "cancelled",
                                                 "cancelled"))
                    return
                pos += os.pwrite(fd, FILE_DATA[pos:pos + step], pos)
                job.progress(pos - off, len(FILE_DATA))
            job.end("done")
        elif path == "/fail":
            os.pwrite(fd, FILE_DATA[:1000], off)
            job.progress(1000, len(FILE_DATA))
            job.end("failed", err_obj(-32000, "426 Connection closed", "ftp",
                                      ftp_code=426,
                                      ftp_text="426 Connection closed"))
        elif path == "/slow":
            for i in range(200):
                job.progress(i * 10, None)
                if job.cancel.wait(0.05):
                    job.end("cancelled", err_obj(-32008, "cancelled",
                                                 "cancelled"))
                    return
            job.end("done")
        else:
            job.end("failed", err_obj(-32005, "550 No such file",
                                      "not_found", ftp_code=550))

    def transfer_put(self, rid, params, fds):
        fd = self.fd_param(rid, params, fds)
        if fd is None:
            return
        off = params.get("offset", 0)
        job = new_job()
        got = b""
        while True:
            b = os.pread(fd, 65536, off + len(got))
            if not b:
                break
            got += b
            self.notify("job.progress", self.job_obj(
                job, params, "put", len(got), None, "running"))
        self.last_params["received"] = got.decode("latin-1")
        self.result(rid, self.job_obj(job, params, "put", len(got), None,
                                      "done"))


class Server:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.running = True

    def stop(self):
        self.running = False

    def serve(self):
        try:
            while self.running:
                if time.monotonic() - last_activity[0] > IDLE_EXIT:
                    break
                try:
                    s, _ = self.sock.accept()
                except socket.timeout:
                    continue
                last_activity[0] = time.monotonic()
                c = Conn(s, self)
                threading.Thread(target=c.run, daemon=True).start()
        finally:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def main(argv):
    path = None
    i = 1
    while i < len(argv):
        if argv[i] == "-S" and i + 1 < len(argv):
            path = argv[i + 1]
            i += 2
        elif argv[i] in ("--user", "-f", "--foreground"):
            i += 1
        elif argv[i] == "--log" and i + 1 < len(argv):
            # the library's autostart passes it; stderr already goes there
            i += 2
        elif argv[i] == "--no-events":
            no_events[0] = True
            i += 1
        elif not argv[i].startswith("-"):
            path = argv[i]
            i += 1
        else:
            sys.stderr.write("fakeagent: unknown option %s\n" % argv[i])
            return 2
    if path is None:
        sys.stderr.write("usage: fakeagent.py [--user] -S SOCKET\n")
        return 2
    server = Server(path)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
