#!/usr/bin/python3
"""JSON-RPC framing and error handling, over the raw socket (TEST-CASES 32)."""
import json
import os
import socket
import time

import ftpa

CORE_METHODS = ["rpc.info", "agent.ping", "agent.stats", "session.open",
                "session.close", "session.list", "fs.list", "fs.stat",
                "transfer.get", "transfer.put"]


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class RpcTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc(timeout=15)
        self.addCleanup(self.rpc.close)

    def assertServing(self):
        """A new connection gets answers: the agent survived."""
        r = self.agent.rpc(timeout=10)
        try:
            self.assertEqual(r.call("agent.ping"), {})
        finally:
            r.close()

    def test_info(self):
        info = self.rpc.call("rpc.info")
        self.assertEqual(info["name"], "ftpd-agent")
        self.assertEqual(info["protocol"], 1)
        self.assertIsInstance(info["version"], str)
        for m in CORE_METHODS:
            self.assertIn(m, info["methods"])

    def test_ping(self):
        self.assertEqual(self.rpc.call("agent.ping"), {})
        # params may be given as an empty object too
        self.assertEqual(self.rpc.call("agent.ping", {}), {})

    def test_stats(self):
        st = self.rpc.call("agent.stats")
        for k in ("connections", "sessions", "jobs", "bytes_in", "bytes_out",
                  "uptime_s"):
            self.assertIn(k, st)
            self.assertIsInstance(st[k], (int, float))
        self.assertGreaterEqual(st["connections"], 1)
        self.assertEqual(st["sessions"], 0)

    def test_string_id(self):
        rep = self.rpc.wait_reply(self.rpc.send("agent.ping", id="abc-1"))
        self.assertEqual(rep["id"], "abc-1")
        self.assertEqual(rep["jsonrpc"], "2.0")
        self.assertEqual(rep["result"], {})

    def test_malformed_json(self):
        other = self.agent.rpc(timeout=10)
        self.addCleanup(other.close)
        bad = self.agent.rpc(timeout=10)
        self.addCleanup(bad.close)
        bad.send_raw(b'{"jsonrpc":"2.0","method":"agent.ping","id":1,\n')
        rep = bad.recv()
        self.assertIsNotNone(rep, "no error reply before the close")
        self.assertRpcError(rep, ftpa.E_PARSE)
        self.assertIsNone(rep.get("id"))
        self.assertIsNone(bad.recv(), "connection not closed after -32700")
        self.assertEqual(other.call("agent.ping"), {})
        self.assertServing()

    def test_not_json_at_all(self):
        bad = self.agent.rpc(timeout=10)
        self.addCleanup(bad.close)
        bad.send_raw(b"\xff\xfe hello\n")
        rep = bad.recv()
        self.assertRpcError(rep, ftpa.E_PARSE)
        self.assertIsNone(bad.recv())
        self.assertServing()

    def test_oversized_message(self):
        """A request over max_message (1 MiB) is answered with kind limit,
        its id when it comes before the params, and skipped: the
        connection goes on, the requests around it are answered, and
        descriptors sent with it are closed."""
        big = self.agent.rpc(timeout=20)
        self.addCleanup(big.close)
        data = b"QUJD" * (512 << 10)       # 2 MiB of base64
        put = (b'{"jsonrpc":"2.0","method":"transfer.put","id":7,'
               b'"params":{"session":"s","path":"p","data":"' + data +
               b'"}}\n')
        late_id = (b'{"jsonrpc":"2.0","method":"transfer.put","params":'
                   b'{"session":"s","path":"p","data":"' + data +
                   b'"},"id":9}\n')
        ping = b'{"jsonrpc":"2.0","method":"agent.ping","id":%d}\n'
        before = nfds(self.agent.pid)
        r, w = os.pipe()
        try:
            # the pipe's ends ride with the big request's first bytes
            big.send_raw(ping % 6 + put[:1000], fds=(r, w))
        finally:
            os.close(r)
            os.close(w)
        big.send_raw(put[1000:] + ping % 8 + late_id + ping % 10)
        got = [big.recv() for _ in range(5)]
        self.assertEqual([m.get("id") for m in got], [6, 7, 8, None, 10],
                         got)
        for m in (got[1], got[3]):
            err = self.assertRpcError(m, -32011, "limit")
            self.assertEqual(err["data"]["max_message"], 1 << 20)
            self.assertIn("1048576", err["message"])
            self.assertIn("max_message", err["message"])
        for m in (got[0], got[2], got[4]):
            self.assertEqual(m.get("result"), {}, m)
        # the same connection serves on, and the pipe was not kept
        self.assertEqual(big.call("agent.ping"), {})
        self.assertEqual(nfds(self.agent.pid), before)
        self.assertEqual(self.rpc.call("agent.ping"), {})
        self.assertServing()

    def test_oversized_request_from_libftpagent(self):
        """libftpagent writes the id first, so its call over the limit
        (here through ftpctl call) fails with the agent's limit error, not
        with a broken connection."""
        params = b'{"session":"s","path":"p","data":"' + \
            b"QUJD" * (512 << 10) + b'"}'
        p = self.ftpctl(self.agent, "call", "transfer.put", "-",
                        input=params)
        self.assertNotEqual(p.rc, 0)
        self.assertIn("ftpctl: ", p.errtext)
        self.assertIn("max_message", p.errtext)
        self.assertNotIn("connection", p.errtext.lower())

    def test_invalid_request(self):
        # wrong jsonrpc version, method not a string: -32600, stays open
        self.rpc.send_raw(b'{"jsonrpc":"1.0","method":"agent.ping","id":7}\n')
        self.assertRpcError(self.rpc.wait_reply(7), ftpa.E_REQUEST)
        self.rpc.send_raw(b'{"jsonrpc":"2.0","method":5,"id":8}\n')
        self.assertRpcError(self.rpc.wait_reply(8), ftpa.E_REQUEST)
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_unknown_method(self):
        rep = self.rpc.call_raw("no.such_method", {})
        err = self.assertRpcError(rep, ftpa.E_METHOD)
        self.assertEqual(err["data"]["kind"], "method")
        # the connection stays usable
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_wrong_param_types(self):
        # a live session, so that only the type can be wrong
        mock = self.start_mock("ok")
        sid = self.rpc.call("session.open", {"url": mock.url("/"),
                                             "password": "pw"})["session"]
        cases = [
            ("session.open", {"url": 5}),
            ("session.open", {"url": "ftp://127.0.0.1:1/", "verify": "yes"}),
            ("session.open", {}),
            ("session.close", {"session": 12}),
            ("fs.list", {"session": ["x"], "path": "/"}),
            ("fs.list", {"session": sid, "path": 3}),
            ("fs.stat", {"session": sid, "path": None}),
            ("fs.stat", {"session": sid}),
            ("transfer.get", {"session": sid, "path": "/a", "fd": "zero"}),
            ("transfer.get", {"session": sid, "path": "/a", "inline": 1}),
        ]
        for method, params in cases:
            with self.subTest(method=method, params=params):
                rep = self.rpc.call_raw(method, params)
                err = self.assertRpcError(rep, ftpa.E_PARAMS)
                self.assertEqual(err["data"]["kind"], "params")
        self.rpc.send_raw(b'{"jsonrpc":"2.0","method":"fs.list",'
                          b'"params":"notanobject","id":99}\n')
        err = self.assertRpcError(self.rpc.wait_reply(99))
        self.assertIn(err["code"], (ftpa.E_PARAMS, ftpa.E_REQUEST))
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_control_chars_refused(self):
        # TEST-CASES 18: refused before anything goes to a server
        for params in ({"url": "ftp://127.0.0.1:1/", "name": "a\r\nb"},
                       {"url": "ftp://u%0d%0aDELE@127.0.0.1:1/"},
                       {"url": "ftp://u@127.0.0.1:1/", "password": "p\nQUIT"}):
            with self.subTest(params=params):
                rep = self.rpc.call_raw("session.open", params)
                self.assertRpcError(rep, ftpa.E_PARAMS)

    def test_unused_fd_is_closed(self):
        r, w = os.pipe()
        self.addCleanup(os.close, w)
        try:
            rep = self.rpc.call_raw("agent.ping", {}, fds=[r])
        finally:
            os.close(r)
        self.assertEqual(rep.get("result"), {}, rep)

        # Once the agent closed its copy of the read end, nobody reads.
        def broken():
            try:
                os.write(w, b"x")
                return False
            except BrokenPipeError:
                return True
        ftpa.wait_until(broken, 5, what="the agent to close the unused fd")

    def test_fd_needed_but_not_sent(self):
        rep = self.rpc.call_raw("transfer.get",
                                {"session": "nosuch", "path": "/a", "fd": 0})
        err = self.assertRpcError(rep)
        # either check may come first, but it must not succeed
        self.assertIn(err["data"]["kind"], ("params", "no_session"))

    def test_pipelined(self):
        reqs = {}
        for i in range(30):
            method = ["agent.ping", "rpc.info", "agent.stats",
                      "no.such"][i % 4]
            rid = i if i % 2 else "s%d" % i
            self.rpc.send(method, id=rid)
            reqs[rid] = method
        seen = {}
        while len(seen) < len(reqs):
            m = self.rpc.recv()
            self.assertIsNotNone(m, "closed with %d replies missing"
                                 % (len(reqs) - len(seen)))
            if "id" not in m:
                continue
            self.assertIn(m["id"], reqs)
            self.assertNotIn(m["id"], seen, "two replies for one id")
            seen[m["id"]] = m
        for rid, method in reqs.items():
            m = seen[rid]
            if method == "no.such":
                self.assertRpcError(m, ftpa.E_METHOD)
            elif method == "agent.ping":
                self.assertEqual(m["result"], {})
            elif method == "rpc.info":
                self.assertEqual(m["result"]["name"], "ftpd-agent")
            else:
                self.assertIn("uptime_s", m["result"])

    def test_pipelined_in_one_write(self):
        blob = b"".join(
            json.dumps({"jsonrpc": "2.0", "method": "agent.ping",
                        "id": i}).encode() + b"\n" for i in range(100))
        self.rpc.send_raw(blob)
        for i in range(100):
            self.assertEqual(self.rpc.wait_reply(i)["result"], {})

    def test_half_close_still_answered(self):
        """A client that sends its requests and shuts its side for writing
        (socat, nc -N) still gets the replies."""
        for _ in range(5):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(self.agent.sock)
                s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"agent.ping"}\n'
                          b'{"jsonrpc":"2.0","id":2,"method":"session.list"}\n')
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
            replies = [json.loads(l) for l in data.splitlines()]
            self.assertEqual(sorted(r["id"] for r in replies), [1, 2], data)

    def test_many_connections(self):
        # connect() returns once the connection is queued in the listen
        # backlog, before the agent accept()s it, and setUp's readiness
        # probe may not be closed yet: count the base only when the agent
        # holds exactly self.rpc's connection
        ftpa.wait_until(lambda: self.rpc.call("agent.stats")["connections"]
                        == 1, 10, what="the agent to hold one connection")
        base = nfds(self.agent.pid)
        conns = []
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(15)
            # a full listen backlog gives EAGAIN: retry like a client would
            ftpa.wait_until(lambda: s.connect_ex(self.agent.sock) == 0, 10,
                            what="connect to succeed")
            conns.append(s)
        for i, s in enumerate(conns):
            s.sendall(json.dumps({"jsonrpc": "2.0", "method": "agent.ping",
                                  "id": i}).encode() + b"\n")
        answered = 0
        for i, s in enumerate(conns):
            buf = b""
            try:
                while b"\n" not in buf:
                    b = s.recv(4096)
                    if not b:
                        break
                    buf += b
            except ConnectionResetError:
                buf = b""
            if not buf:
                continue    # closed by a per-uid connection limit
            m = json.loads(buf.split(b"\n")[0])
            if "error" in m:
                self.assertEqual(m["error"]["data"]["kind"], "limit", m)
            else:
                self.assertEqual(m, {"jsonrpc": "2.0", "id": i, "result": {}})
                answered += 1
        self.assertGreater(answered, 0)
        for s in conns:
            s.close()
        self.assertServing()
        # every connection is gone from the agent: stats and its fd table
        ftpa.wait_until(lambda: self.rpc.call("agent.stats")["connections"]
                        == 1, 10, what="connections to drop back to 1")
        try:
            ftpa.wait_until(lambda: nfds(self.agent.pid) <= base, 10,
                            what="the agent's fd count to go back to %d"
                            % base)
        except AssertionError as e:
            fds = sorted(os.listdir("/proc/%d/fd" % self.agent.pid), key=int)
            links = []
            for fd in fds:
                try:
                    links.append("%s -> %s" % (fd, os.readlink(
                        "/proc/%d/fd/%s" % (self.agent.pid, fd))))
                except OSError:
                    pass
            raise AssertionError("%s; open: %s" % (e, ", ".join(links)))

    def test_client_vanishes_mid_message(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.agent.sock)
        s.sendall(b'{"jsonrpc":"2.0","meth')
        s.close()
        time.sleep(0.2)
        self.assertServing()


MIB = 1 << 20


class ProgressRequestTest(ftpa.TestCase):
    """job.progress on the calling connection names its request (#15):
    params carry "request", the transfer's JSON-RPC id as sent, only for
    the connection that asked for progress; the first comes at once,
    before any byte moves, and the reply follows the last."""

    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc(timeout=30)
        self.addCleanup(self.rpc.close)

    def client(self):
        r = self.agent.rpc(timeout=60)
        self.addCleanup(r.close)
        return r

    def server(self, names, size, rate):
        srv = self.start_pyftpd(rate=rate)
        for n in names:
            ftpa.make_file(os.path.join(srv.home, n), size)
        return srv

    def sid(self, srv, **opts):
        p = dict({"url": srv.url("/"), "password": srv.password}, **opts)
        return self.rpc.call("session.open", p, timeout=30)["session"]

    def send_get(self, rpc, sid, path, rid, **kw):
        """transfer.get of path into a new local file, with progress;
        sent, not waited for."""
        fd = os.open(os.path.join(self.tmpdir(), "local"),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            p = dict({"session": sid, "path": path, "fd": 0,
                      "progress": True}, **kw)
            return rpc.send("transfer.get", p, id=rid, fds=[fd])
        finally:
            os.close(fd)

    @staticmethod
    def read_until(rpc, done, timeout=60):
        """Messages read on rpc, in order, until done(msg)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out; last: %r" % out[-3:])
            m = rpc.recv(left)
            if m is None:
                raise AssertionError("the agent closed the connection")
            out.append(m)
            if done(m):
                return out

    @staticmethod
    def progress_of(msgs, job):
        return [m["params"] for m in msgs
                if m.get("method") == "job.progress"
                and m["params"].get("job") == job]

    def assertNoDoubles(self, notes):
        """Two notices of one tick would have the same state and bytes
        and (the agent's clock) the same elapsed seconds; real ones are
        200 ms apart at least."""
        for a, b in zip(notes, notes[1:]):
            same = (a["state"], a["bytes"]) == (b["state"], b["bytes"])
            self.assertFalse(same and abs(b["seconds"] - a["seconds"]) < 0.05,
                             "the same tick twice: %r, %r" % (a, b))

    def test_pipelined_transfers_name_their_request(self):
        srv = self.server(["a.bin", "b.bin"], MIB, 512 * 1024)
        sid = self.sid(srv)
        c = self.client()
        ids = [7, "x8"]
        self.send_get(c, sid, "a.bin", ids[0])
        self.send_get(c, sid, "b.bin", ids[1])
        left = set(ids)

        def done(m):
            if m.get("id") in left and "method" not in m:
                left.discard(m["id"])
            return not left
        msgs = self.read_until(c, done)
        for rid in ids:
            reply = [i for i, m in enumerate(msgs)
                     if "method" not in m and m.get("id") == rid]
            self.assertEqual(len(reply), 1, msgs)
            r = msgs[reply[0]]
            self.assertIs(type(r["id"]), type(rid))
            self.assertEqual(r["result"]["state"], "done", r)
            job = r["result"]["job"]
            self.assertNotIn("request", r["result"])
            mine = [i for i, m in enumerate(msgs)
                    if m.get("method") == "job.progress"
                    and m["params"].get("request") == rid
                    and type(m["params"]["request"]) is type(rid)]
            self.assertGreaterEqual(len(mine), 3, msgs)
            self.assertEqual({msgs[i]["params"]["job"] for i in mine},
                             {job})
            # first at once, before a byte moved; the reply after the last
            first = msgs[mine[0]]["params"]
            self.assertIn(first["state"], ("queued", "running"), first)
            self.assertEqual(first["bytes"], 0, first)
            self.assertLess(mine[-1], reply[0])
            self.assertNoDoubles([msgs[i]["params"] for i in mine])
        # every notice on the caller's connection names one of its requests
        for m in msgs:
            if m.get("method") == "job.progress":
                self.assertIn("request", m["params"], m)
                self.assertIn(m["params"]["request"], ids, m)
        jobs = [m["result"]["job"] for m in msgs if "result" in m]
        self.assertEqual(len(set(jobs)), 2, jobs)

    def test_subscribed_caller_gets_one_notice_with_request(self):
        srv = self.server(["own.bin", "other.bin"], MIB, 512 * 1024)
        sid = self.sid(srv)
        c = self.client()
        self.assertEqual(c.call("events.subscribe", {"jobs": "all"}), {})
        fd = os.open(os.path.join(self.tmpdir(), "o"),
                     os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            other = self.rpc.call("transfer.get", {
                "session": sid, "path": "other.bin", "wait": False,
                "fd": 0}, fds=[fd])["job"]
        finally:
            os.close(fd)
        rid = self.send_get(c, sid, "own.bin", "sub-1")
        msgs = self.read_until(c, lambda m: m.get("id") == rid
                               and "method" not in m)
        job = msgs[-1]["result"]["job"]
        self.assertEqual(msgs[-1]["result"]["state"], "done", msgs[-1])
        own = self.progress_of(msgs, job)
        self.assertGreaterEqual(len(own), 3, msgs)
        # one notice per tick, the caller's form: none without request
        self.assertEqual([p.get("request") for p in own],
                         ["sub-1"] * len(own), own)
        self.assertNoDoubles(own)
        # the subscription's notices for a job it did not start: plain
        theirs = self.progress_of(msgs, other)
        self.assertTrue(theirs, msgs)
        self.assertFalse([p for p in theirs if "request" in p], theirs)
        res = self.rpc.call("job.wait", {"job": other, "timeout": 30},
                            timeout=40)
        self.assertEqual(res["state"], "done", res)

    def test_other_subscriber_gets_no_request(self):
        srv = self.server(["s.bin"], MIB, 512 * 1024)
        sid = self.sid(srv)
        sub = self.client()
        self.assertEqual(sub.call("events.subscribe", {"jobs": "all"}), {})
        c = self.client()
        rid = self.send_get(c, sid, "s.bin", 42)
        mine = self.read_until(c, lambda m: m.get("id") == rid
                               and "method" not in m)
        job = mine[-1]["result"]["job"]
        self.assertTrue(self.progress_of(mine, job))
        self.assertEqual({p.get("request") for p in
                          self.progress_of(mine, job)}, {42})
        msgs = self.read_until(sub, lambda m: m.get("method") ==
                               "job.finished"
                               and m["params"]["job"] == job)
        seen = self.progress_of(msgs, job)
        self.assertGreaterEqual(len(seen), 2, msgs)
        self.assertFalse([p for p in seen if "request" in p], seen)
        self.assertNotIn("request", msgs[-1]["params"])

    def test_queued_job_heartbeat(self):
        """A job waiting for the session's one connection is queued for
        seconds: the caller still hears of it at least once a second."""
        srv = self.server(["busy.bin", "next.bin"], 2 * MIB, 512 * 1024)
        sid = self.sid(srv, max_connections=1)
        c = self.client()
        self.send_get(c, sid, "busy.bin", "busy")
        rid = self.send_get(c, sid, "next.bin", "next")
        msgs = []
        t0 = time.monotonic()
        deadline = t0 + 60
        while True:
            m = c.recv(max(0.01, deadline - time.monotonic()))
            self.assertIsNotNone(m)
            msgs.append((time.monotonic(), m))
            if "method" not in m and m.get("id") == rid:
                break
        queued = [t for t, m in msgs if m.get("method") == "job.progress"
                  and m["params"]["path"] == "next.bin"
                  and m["params"]["state"] == "queued"]
        # busy.bin takes about 4 s, so next.bin waits as long
        self.assertGreaterEqual(len(queued), 3, msgs)
        gaps = [b - a for a, b in zip(queued, queued[1:])]
        self.assertLess(max(gaps), 2.5, gaps)
        self.assertLess(queued[0] - t0, 2.0)


if __name__ == "__main__":
    ftpa.main()
