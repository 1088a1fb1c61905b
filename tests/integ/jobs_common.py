"""What test_jobs.py and test_connections.py share: JobsTestCase, an
agent and a client connection with helpers to open sessions, start
transfers that do not wait (wait:false), wait for their jobs and read
what the agent sends, and a few small functions.
"""
import os
import sys
import time

import ftpa

MIB = 1 << 20
MOCK_PW = "mockpw"


def note(fmt, *args):
    """A line of facts in the test's log (stderr)."""
    sys.stderr.write("  [%s]\n" % (fmt % args))


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def open_w(path):
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


class JobsTestCase(ftpa.TestCase):
    """An agent, self.rpc a client of it, and the helpers."""

    def settled_base(self):
        """Before counting the agent's fds: connect() returns before the
        agent accept()s, so wait until it holds exactly self.rpc."""
        ftpa.wait_until(lambda: self.rpc.call("agent.stats")["connections"]
                        == 1, 10, what="the agent to hold one connection")

    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.client()

    # ---- helpers -----------------------------------------------------
    def client(self, timeout=60):
        r = self.agent.rpc(timeout=timeout)
        self.addCleanup(r.close)
        return r

    def open(self, srv, rpc=None, password=None, **opts):
        p = {"url": srv.url("/"),
             "password": password or srv.password or MOCK_PW}
        p.update(opts)
        return (rpc or self.rpc).call("session.open", p, timeout=30)

    def sid(self, srv, rpc=None, **opts):
        return self.open(srv, rpc, **opts)["session"]

    def files(self, srv, n, size, prefix="f"):
        """n files of size random bytes in srv's home: {name: sha256}."""
        out = {}
        st = os.stat(srv.home)
        for i in range(n):
            name = "%s%02d.bin" % (prefix, i)
            p = os.path.join(srv.home, name)
            out[name] = ftpa.make_file(p, size)
            os.chown(p, st.st_uid, st.st_gid)
        return out

    def start_nowait(self, method, fd, sid, path, rpc=None, **kw):
        """method (transfer.get/put) wait:false on fd (closed here);
        returns the job id."""
        try:
            p = dict({"session": sid, "path": path, "fd": 0, "wait": False},
                     **kw)
            res = (rpc or self.rpc).call(method, p, fds=[fd])
        finally:
            os.close(fd)
        self.assertIsInstance(res.get("job"), str, res)
        return res["job"]

    def get_nowait(self, sid, path, local, rpc=None, **kw):
        """transfer.get wait:false into local; returns the job id."""
        return self.start_nowait("transfer.get", open_w(local), sid, path,
                                 rpc, **kw)

    def put_nowait(self, sid, path, local, rpc=None, **kw):
        return self.start_nowait("transfer.put", os.open(local, os.O_RDONLY),
                                 sid, path, rpc, **kw)

    def wait_job(self, job, timeout=30, rpc=None):
        """job.wait; the job object once it has ended."""
        res = (rpc or self.rpc).call("job.wait", {"job": job,
                                                 "timeout": timeout},
                                     timeout=timeout + 10)
        self.assertIn(res.get("state"), ("done", "failed", "cancelled"), res)
        return res

    def status(self, job, rpc=None):
        return (rpc or self.rpc).call("job.status", {"job": job})

    def wait_bytes(self, job, n, timeout=20, rpc=None):
        """Waits until the job is running and has moved at least n bytes."""
        def moved():
            j = self.status(job, rpc)
            self.assertNotIn(j["state"], ("done", "failed", "cancelled"),
                             "the job ended too early: %r" % (j,))
            return j["state"] == "running" and j["bytes"] >= n and j
        return ftpa.wait_until(moved, timeout, what="%s to move %d bytes"
                               % (job, n))

    def session_obj(self, sid, rpc=None):
        for s in (rpc or self.rpc).call("session.list"):
            if s["session"] == sid:
                return s
        self.fail("no session %s in session.list" % sid)

    def drain(self, rpc, until, timeout):
        """Reads messages on rpc (notifications and replies) until
        until(msg) is true or timeout; returns [(monotonic, msg)...]."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %gs; %d messages, "
                                     "last %r" % (timeout, len(out),
                                                  out[-1:] or None))
            m = rpc.recv(left)
            if m is None:
                raise AssertionError("the agent closed the connection")
            out.append((time.monotonic(), m))
            if until(m):
                return out

    def mock_verbs(self, mock):
        return [l.split(" ", 1)[0].upper() for l in mock.received()]

    def assertFdsBack(self, baseline, timeout=10):
        """The agent's fd count returns to baseline (or below)."""
        pid = self.agent.pid
        try:
            ftpa.wait_until(lambda: proc_fds(pid) <= baseline, timeout,
                            what="the agent's fds to return to %d"
                                 % baseline)
        except AssertionError:
            self.fail("the agent holds %d fds, %d before: %s" % (
                proc_fds(pid), baseline,
                sorted(os.readlink("/proc/%d/fd/%s" % (pid, f))
                       for f in os.listdir("/proc/%d/fd" % pid))))
