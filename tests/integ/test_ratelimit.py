#!/usr/bin/python3
"""Rate limits (issue 18) against vsftpd: a job's own limit on get, put
and trees (ftpctl --limit-rate), a session's shared by its transfers
(open --limit-rate, the configuration's limit_rate), transfers without
a limit running at full speed beside a limited one, the limit shown by
ftpctl jobs and sessions, and bad values refused by ftpctl and by the
agent, which keeps serving.

Timings: a limited transfer may never be faster than its limit allows
(the bucket starts empty), so elapsed >= 0.95 x size/rate is a hard
bound; the upper one, 2 x, is loose for a loaded machine."""
import json
import os
import time

import ftpa

KIB = 1024
MIB = 1 << 20
RATE = 512 * KIB            # --limit-rate 512K
SIZE = 2 * MIB              # 4 s at RATE
LOW, HIGH = 0.95, 2.0


class RateLimitTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.start_vsftpd()
        self.work = self.tmpdir()

    def start(self, conf=None, session_args=()):
        """The agent (with configuration text conf) and session "s"."""
        extra = []
        if conf is not None:
            path = os.path.join(self.tmpdir(), "agent.conf")
            with open(path, "w") as f:
                f.write(conf)
            extra = ["-c", path]
        self.agent = self.start_agent(extra=extra)
        self.open("s", *session_args)

    def open(self, name, *args):
        self.ok(self.ctl("open", name, self.srv.url("/"), *args,
                         password=self.srv.password), "open " + name)

    def ctl(self, *args, **kw):
        return self.ftpctl(self.agent, *args, **kw)

    def local(self, name):
        return os.path.join(self.work, name)

    def remote(self, name, size):
        """A file on the server (readable by vsftpd's user); its
        sha256."""
        path = os.path.join(self.srv.home, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return ftpa.make_file(path, size)

    def timed(self, *args):
        """ftpctl ARGS, which must succeed; its wall-clock seconds."""
        t0 = time.monotonic()
        self.ok(self.ctl(*args))
        return time.monotonic() - t0

    def assertPaced(self, elapsed, nbytes, rate, what):
        want = nbytes / rate
        self.assertGreaterEqual(elapsed, LOW * want,
                                "%s: %.2f s for %d bytes at %d B/s, faster "
                                "than the limit (%.2f s)"
                                % (what, elapsed, nbytes, rate, want))
        self.assertLessEqual(elapsed, HIGH * want,
                             "%s: %.2f s for %d bytes at %d B/s (%.2f s)"
                             % (what, elapsed, nbytes, rate, want))

    def jobs_json(self):
        return self.ok(self.ctl("--json", "jobs")).json()

    def job(self, job):
        found = [j for j in self.jobs_json() if j["job"] == job]
        self.assertEqual(len(found), 1, job)
        return found[0]

    def background(self, *args):
        r = self.ok(self.ctl(*args))
        return r.text.strip()

    def sessions(self):
        doc = self.ok(self.ctl("--json", "sessions")).json()
        return {s["session"]: s for s in
                (doc["sessions"] if isinstance(doc, dict) else doc)}

    # ---- a job's own limit ------------------------------------------------

    def test_get_limited(self):
        self.start()
        digest = self.remote("f.bin", SIZE)
        dst = self.local("f.bin")
        took = self.timed("get", "--limit-rate", "512K", "s:/f.bin", dst)
        self.assertPaced(took, SIZE, RATE, "get --limit-rate 512K")
        self.assertEqual(ftpa.sha256_file(dst), digest)
        # the finished job keeps its limit; an unlimited get has none
        done = [j for j in self.jobs_json() if j["path"] == "/f.bin"]
        self.assertEqual(done[-1]["limit_rate"], RATE, done)
        self.ok(self.ctl("get", "s:/f.bin", self.local("g.bin")))
        plain = [j for j in self.jobs_json() if j["local"] and
                 j["local"].startswith(self.local("g.bin"))]
        self.assertEqual(len(plain), 1, plain)
        self.assertNotIn("limit_rate", plain[0])

    def test_put_limited(self):
        self.start()
        src = self.local("up.bin")
        digest = ftpa.make_file(src, SIZE)
        took = self.timed("put", "--limit-rate=0.5M", src, "s:/up.bin")
        self.assertPaced(took, SIZE, RATE, "put --limit-rate 0.5M")
        self.assertEqual(ftpa.sha256_file(
            os.path.join(self.srv.home, "up.bin")), digest)

    def test_url_target_limited(self):
        """With a URL target --limit-rate is the job's as well: the session
        that serves the URL (here "s", reused), which later commands
        reuse too, gets none."""
        self.start()
        digest = self.remote("u.bin", MIB)
        dst = self.local("u.bin")
        t0 = time.monotonic()
        self.ok(self.ctl("get", "--limit-rate", "1M", self.srv.url("/u.bin"),
                         dst, password=self.srv.password))
        self.assertPaced(time.monotonic() - t0, MIB, MIB, "get URL")
        self.assertEqual(ftpa.sha256_file(dst), digest)
        s = self.sessions()
        self.assertEqual(list(s), ["s"], s)
        self.assertNotIn("limit_rate", s["s"])
        self.assertEqual([j.get("limit_rate") for j in self.jobs_json()],
                         [MIB])

    def test_tree_limited(self):
        """mirror: one limit for the whole tree, its files moving four at
        a time."""
        self.start()
        digests = {}
        for i in range(8):
            name = "tree/d%d/f%d.bin" % (i % 2, i)
            digests[name[5:]] = self.remote(name, SIZE // 8)
        dst = self.local("mirror")
        took = self.timed("mirror", "-P", "4", "--limit-rate", "512k",
                          "s:/tree", dst)
        self.assertPaced(took, SIZE, RATE, "mirror --limit-rate 512k")
        for rel, digest in digests.items():
            self.assertEqual(ftpa.sha256_file(os.path.join(dst, rel)),
                             digest, rel)
        # get -r takes it too: the same tree again, half the rate
        took = self.timed("get", "-r", "--limit-rate", "1M", "s:/tree",
                          self.local("again"))
        self.assertPaced(took, SIZE, MIB, "get -r --limit-rate 1M")

    # ---- a session's limit --------------------------------------------------

    def test_session_limit_shared(self):
        """open --limit-rate: two gets at once share it, so together they
        take as long as one of both sizes would."""
        self.start(session_args=("--limit-rate", "512K"))
        self.assertEqual(self.sessions()["s"]["limit_rate"], RATE)
        half = SIZE // 2
        digests = [self.remote("a.bin", half), self.remote("b.bin", half)]
        t0 = time.monotonic()
        jobs = [self.background("get", "--background", "s:/%s.bin" % n,
                                self.local("%s.bin" % n)) for n in "ab"]
        self.ok(self.ctl("wait", *jobs))
        took = time.monotonic() - t0
        self.assertPaced(took, SIZE, RATE, "two gets on a 512K session")
        for n, digest in zip("ab", digests):
            self.assertEqual(ftpa.sha256_file(self.local(n + ".bin")),
                             digest)
        # they ran at once, each at about half the limit
        ends = [self.job(j) for j in jobs]
        self.assertLess(max(e["started"] for e in ends),
                        min(e["ended"] for e in ends), ends)
        # the session's limit, not a job's own
        for e in ends:
            self.assertNotIn("limit_rate", e)

    def test_session_limit_and_job_limit(self):
        """A job's own limit below the session's is the one that holds."""
        self.start(session_args=("--limit-rate", "4M"))
        self.remote("f.bin", SIZE // 2)
        took = self.timed("get", "--limit-rate", "256K", "s:/f.bin",
                          self.local("f.bin"))
        self.assertPaced(took, SIZE // 2, 256 * KIB, "256K job on a 4M "
                         "session")

    def test_configured_default(self):
        """The configuration's limit_rate is a session's unless open says
        otherwise; --limit-rate 0 is none; sessions shows the limit."""
        self.start(conf="limit_rate = 1048576\n")
        self.open("z", "--limit-rate", "0")
        self.open("h", "--limit-rate", "1.5M")
        s = self.sessions()
        self.assertEqual(s["s"]["limit_rate"], MIB, s)
        self.assertNotIn("limit_rate", s["z"], s)
        self.assertEqual(s["h"]["limit_rate"], 1572864, s)
        r = self.ok(self.ctl("sessions"))
        lines = r.text.splitlines()
        col = lines[0].split().index("LIMIT")
        rows = {l.split()[0]: l.split() for l in lines[1:]}
        # TLS "none" is one word, so the columns line up with the head
        self.assertEqual(rows["s"][col], "1M", r)
        self.assertEqual(rows["z"][col], "-", r)
        self.assertEqual(rows["h"][col], "1.5M", r)

    # ---- other transfers are not slowed -------------------------------------

    def test_unlimited_beside_limited(self):
        """While a limited get crawls, an unlimited one of the same session
        comes and goes, and the limited one is still running after it."""
        self.start()
        self.remote("slow.bin", SIZE)
        fast = self.remote("fast.bin", 16 * MIB)
        job = self.background("get", "--background", "--limit-rate", "256K",
                              "s:/slow.bin", self.local("slow.bin"))
        ftpa.wait_until(lambda: self.job(job)["state"] == "running", 10,
                        what="the limited job to run")
        self.ok(self.ctl("get", "s:/fast.bin", self.local("fast.bin")))
        self.assertEqual(ftpa.sha256_file(self.local("fast.bin")), fast)
        slow = self.job(job)
        self.assertEqual(slow["state"], "running", slow)
        self.assertLess(slow["bytes"], SIZE, slow)
        self.ok(self.ctl("cancel", job))

    # ---- ftpctl jobs ----------------------------------------------------------

    def test_jobs_shows_limit(self):
        self.start()
        self.remote("slow.bin", SIZE)
        self.remote("small.bin", 1000)
        self.ok(self.ctl("get", "s:/small.bin", self.local("small.bin")))
        job = self.background("get", "--background", "--limit-rate", "256K",
                              "s:/slow.bin", self.local("slow.bin"))
        ftpa.wait_until(lambda: self.job(job)["state"] == "running", 10,
                        what="the limited job to run")
        r = self.ok(self.ctl("jobs"))
        lines = r.text.splitlines()
        head = lines[0].split()
        self.assertEqual(head[5:8], ["RATE", "LIMIT", "PATH"], r)
        rows = {l.split()[0]: l.split() for l in lines[1:]}
        # from the end: LOCAL, PATH, LIMIT (RATE is one or two words)
        self.assertEqual(rows[job][-3], "256K", r)
        self.assertEqual(rows[job][-2], "s:/slow.bin", r)
        small = [k for k in rows if k != job]
        self.assertEqual(len(small), 1, r)
        self.assertEqual(rows[small[0]][-3], "-", r)
        self.assertEqual(self.job(job)["limit_rate"], 256 * KIB)
        self.ok(self.ctl("cancel", job))

    # ---- bad values ---------------------------------------------------------------

    def test_bad_values_ftpctl(self):
        self.start()
        self.remote("f.bin", 1000)
        cases = [
            (("get", "--limit-rate", "-1", "s:/f.bin", self.local("x")),
             "negative"),
            (("get", "--limit-rate", "10X", "s:/f.bin", self.local("x")),
             "suffix"),
            (("put", "--limit-rate=", self.local("x"), "s:/x"), "number"),
            (("mirror", "--limit-rate", "2G", "s:/", self.local("m")),
             "at most"),
            (("get", "-r", "--limit-rate", "1e3", "s:/", self.local("m")),
             "suffix"),
            (("open", "t", self.srv.url("/"), "--limit-rate", "0.5"),
             "at least"),
        ]
        for args, why in cases:
            r = self.ctl(*args)
            self.assertEqual(r.rc, 2, r)
            self.assertIn("--limit-rate", r.errtext, r)
            self.assertIn(why, r.errtext, r)
            self.assertIn("usage: ftpctl %s" % args[0], r.errtext, r)
        self.assertFalse(os.path.exists(self.local("x")))
        self.assertFalse(os.path.exists(self.local("m")))
        self.assertNotIn("t", self.sessions())
        self.assertEqual(self.jobs_json(), [])
        r = self.ctl("--json", "get", "--limit-rate", "10X", "s:/f.bin",
                     self.local("x"))
        self.assertEqual(r.rc, 2, r)
        self.assertEqual(r.json()["error"]["kind"], "usage", r)

    def test_bad_values_rpc(self):
        """The agent refuses a bad limit_rate with -32602 and starts
        nothing; it keeps serving."""
        self.start()
        self.remote("f.bin", 1000)
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        bad = [-5, -1, "abc", "10M", 1.5, 1e12, 10 ** 12, 2147483648, True,
               [1], {"rate": 1}]
        fd = os.open(self.local("sink"), os.O_WRONLY | os.O_CREAT, 0o600)
        self.addCleanup(os.close, fd)
        src = os.open(self.local("sink"), os.O_RDONLY)
        self.addCleanup(os.close, src)
        for v in bad:
            for method, params, fds in (
                    ("transfer.get", {"path": "/f.bin", "fd": 0}, (fd,)),
                    ("transfer.put", {"path": "/g.bin", "fd": 0}, (src,)),
                    ("transfer.tree", {"path": "/", "direction": "get"},
                     ()),
                    ("session.open", {"url": self.srv.url("/"),
                                      "password": self.srv.password,
                                      "name": "bad"}, ())):
                p = dict(params, limit_rate=v)
                if method != "session.open":
                    p["session"] = "s"
                rep = rpc.call_raw(method, p, fds=fds)
                err = self.assertRpcError(rep, ftpa.E_PARAMS, "params")
                self.assertIn("limit_rate", err.get("message", ""),
                              (method, v, err))
        # 1e12 as the JSON text has it: a number, but no integer
        rep = json.loads(self.raw_line(
            b'{"jsonrpc":"2.0","id":"e","method":"transfer.get","params":'
            b'{"session":"s","path":"/f.bin","fd":0,"limit_rate":1e12}}\n',
            fd))
        self.assertRpcError(rep, ftpa.E_PARAMS, "params")
        self.assertEqual(rpc.call("job.list"), [])
        self.assertNotIn("bad", self.sessions())
        self.assertEqual(rpc.call("agent.ping"), {})
        # the largest limit is taken, and 0 is none
        for v in (2147483647, 0):
            job = rpc.call("transfer.get", {"session": "s", "path": "/f.bin",
                                            "fd": 0, "limit_rate": v},
                           fds=(fd,))
            self.assertEqual(job["state"], "done", job)
            self.assertEqual(job.get("limit_rate", 0), v, job)
        self.ok(self.ctl("get", "s:/f.bin", self.local("ok")))

    def raw_line(self, line, fd):
        """One request sent as the bytes given (with fd); the reply's
        text."""
        r = ftpa.Rpc(self.agent.sock)
        try:
            r.send_raw(line, (fd,))
            m = r.recv()
            return json.dumps(m)
        finally:
            r.close()


if __name__ == "__main__":
    ftpa.main()
