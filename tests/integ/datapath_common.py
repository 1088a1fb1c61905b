"""What the data path tests (test_datapath.py,
test_datapath_concurrent.py, test_datapath_zerocopy.py) share: the
deterministic content of their test files and DataTestCase, an agent
whose messages may be large with helpers to open sessions, run transfers
on a descriptor and check their replies.
"""
import os
import select
import time

import ftpa
from ftpmock import payload

MIB = 1 << 20
BIG = 20 * MIB + 3
XFER_TIMEOUT = 600          # generous: slow readers, strace, ASan builds
PING_LIMIT = 5.0            # an agent.ping must answer within this

_DATA = {}


def data_of(size):
    """The deterministic random content of a test file of size bytes."""
    if size not in _DATA:
        _DATA[size] = payload(size, 7000 + size % 9973)
    return _DATA[size]


def sha(b):
    return ftpa.sha256_bytes(b)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


# ---- the common part ----------------------------------------------------------

class DataTestCase(ftpa.TestCase):
    """An agent whose messages may be large (inline data), and helpers."""

    conf_extra = ""     # more lines for the agent's configuration

    def setUp(self):
        super().setUp()
        conf = os.path.join(self.tmpdir(), "ftpd-agent.conf")
        with open(conf, "w") as f:
            f.write("max_message = %d\n" % (32 * MIB) + self.conf_extra)
        self.agent = self.start_agent(extra=["-c", conf])
        self.rpc = self.agent.rpc(timeout=XFER_TIMEOUT)
        self.addCleanup(self.rpc.close)
        self.work = self.tmpdir()

    # -- servers and sessions

    def any_server(self, tls=None):
        """vsftpd when we are root, else pyftpdlib."""
        if ftpa.vsftpd_available():
            return self.start_vsftpd(tls=tls)
        return self.start_pyftpd(tls=tls or "none")

    def open(self, srv, scheme="ftp", **params):
        p = {"url": srv.url("/", scheme=scheme), "password": srv.password}
        if scheme != "ftp":
            p["ca_file"] = ftpa.certs().ca
        p.update(params)
        return self.rpc.call("session.open", p, timeout=60)["session"]

    def write_remote(self, srv, name, data):
        """A file on the server's disk, owned like its home (vsftpd runs
        as the test user and must be able to write it)."""
        path = os.path.join(srv.home, name)
        with open(path, "wb") as f:
            f.write(data)
        st = os.stat(srv.home)
        os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, 0o644)
        return path

    def read_remote(self, srv, name):
        return read_file(os.path.join(srv.home, name))

    # -- RPC

    def reply_waiting(self):
        """A reply (or anything) came from the agent on self.rpc."""
        return b"\n" in self.rpc.buf or bool(
            select.select([self.rpc.sock], [], [], 0)[0])

    def xfer(self, method, sid, path, fd=None, close=True, during=None,
             timeout=XFER_TIMEOUT, **params):
        """Sends a transfer with fd (closing our copy once sent unless
        close is False), runs during() while it runs, returns the raw
        reply."""
        p = dict(params, session=sid, path=path)
        fds = ()
        if fd is not None:
            p["fd"] = 0
            fds = [fd]
        try:
            rid = self.rpc.send(method, p, fds=fds)
        finally:
            if fd is not None and close:
                os.close(fd)
        if during is not None:
            during()
        return self.rpc.wait_reply(rid, timeout)

    def done(self, rep, what, size=None):
        """rep is a finished transfer's reply: its job, state done, and
        bytes == size when given."""
        self.assertIn("result", rep, "%s: expected success, got %r"
                      % (what, rep))
        job = rep["result"]
        self.assertEqual(job.get("state"), "done", "%s: %r" % (what, job))
        if size is not None:
            self.assertEqual(job.get("bytes"), size, "%s: %r" % (what, job))
        return job

    def failed(self, rep, what):
        """rep is a transfer's error reply; returns the error object."""
        self.assertIn("error", rep, "%s: expected an error, got %r"
                      % (what, rep))
        err = rep["error"]
        kind = (err.get("data") or {}).get("kind")
        self.assertNotIn(kind, (None, "params", "no_session"), err)
        self.assertEqual(err.get("code"), ftpa.KIND_CODES[kind], err)
        self.assertTrue(err.get("message"), err)
        return err

    def ping_ok(self, what):
        """agent.ping on a new connection answers within PING_LIMIT s;
        returns the latency."""
        t0 = time.monotonic()
        try:
            r = self.agent.rpc(timeout=PING_LIMIT)
            try:
                rep = r.call_raw("agent.ping", timeout=PING_LIMIT)
            finally:
                r.close()
        except (OSError, EOFError) as e:
            self.fail("agent.ping did not answer within %g s %s: %r"
                      % (PING_LIMIT, what, e))
        self.assertEqual(rep.get("result"), {}, rep)
        return time.monotonic() - t0

    def join(self, thread, what):
        thread.join(XFER_TIMEOUT)
        self.assertFalse(thread.is_alive(), "%s: the thread on the other "
                         "end never finished" % what)
        self.assertIsNone(thread.error, "%s: %r" % (what, thread.error))

    def get_to_file(self, sid, remote, size, what, flags=0, timeout=None):
        """A download into a new regular file; checks it byte for byte."""
        dest = os.path.join(self.work, "new-%s" % what.replace("/", "_"))
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | flags,
                     0o600)
        rep = self.xfer("transfer.get", sid, remote, fd,
                        timeout=timeout or XFER_TIMEOUT)
        self.done(rep, what, size)
        self.assertEqual(os.path.getsize(dest), size, what)
        self.assertEqual(ftpa.sha256_file(dest), sha(data_of(size)), what)
        return dest

