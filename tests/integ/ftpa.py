"""Helpers for ftpd-agent's integration tests (Python 3 stdlib only).

Every test file is a unittest module that runs on its own:

    FTPA_BUILDDIR=/path/to/build /usr/bin/python3 tests/integ/test_rpc.py

and exits 0 on success, 77 when every test was skipped (Automake's SKIP),
1 otherwise. FTPA_BUILDDIR (the build tree: ftpd-agent, ftpctl) and
FTPA_SRCDIR (the source tree) are set by Makefile.am; without them the
source tree is the one this file lives in and the build tree its build/.

Each process a test starts is stopped by pid in a cleanup (also when the
test fails). The agent's stderr log is checked for sanitizer reports when
it stops.
"""

import base64
import hashlib
import json
import os
import pwd
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("FTPA_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("FTPA_BUILDDIR") or os.path.join(SRCDIR, "build")
PYTHON = "/usr/bin/python3"
AGENT = os.path.join(BUILDDIR, "ftpd-agent")
FTPCTL = os.path.join(BUILDDIR, "ftpctl")
FTPMOCK = os.path.join(SRCDIR, "tests", "ftpmock.py")
PYFTPD = os.path.join(SRCDIR, "tests", "integ", "pyftpd_server.py")
VSFTPD = "/usr/sbin/vsftpd"

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
import ftpmock  # noqa: E402  (payload() tells what a mock data step sends)

# Error codes of docs/protocol.md.
E_PARSE, E_REQUEST, E_METHOD, E_PARAMS = -32700, -32600, -32601, -32602
KIND_CODES = {
    "ftp": -32000, "connect": -32001, "tls": -32002, "auth": -32003,
    "timeout": -32004, "not_found": -32005, "exists": -32006,
    "permission": -32007, "cancelled": -32008, "no_session": -32009,
    "no_job": -32010, "limit": -32011, "local_io": -32012,
    "protocol": -32013,
}

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: ThreadSanitizer")


# ---- small utilities ---------------------------------------------------

def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ephemeral_low():
    """The first port the kernel hands out to outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_range(n, host="127.0.0.1"):
    """n consecutive ports that are free now (for passive port ranges),
    below the ephemeral ports when there is room: an outgoing connection
    (thousands of them while other test files run) must not take a port
    the server will listen on later (vsftpd dies with "500 OOPS:
    priv_sock_get_int" when its passive bind fails)."""
    top = ephemeral_low() - n
    lo, hi = (10000, top) if top - 10000 > 4 * n else (30000, 60000 - n)
    for _ in range(200):
        base = random.randint(lo, hi)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((host, p))
            return base, base + n - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range of %d" % n)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def make_file(path, size):
    """Writes size random bytes to path quickly; returns their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            b = os.urandom(min(left, 4 << 20))
            f.write(b)
            h.update(b)
            left -= len(b)
    return h.hexdigest()


def wait_until(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %gs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def read_line_from(proc, timeout, what):
    """First stdout line of proc, or an AssertionError after timeout."""
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("%s did not become ready in %gs (exit %s)"
                                 % (what, timeout, proc.poll()))
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if r:
            b = os.read(fd, 4096)
            if not b:
                raise AssertionError("%s exited early (%s)"
                                     % (what, proc.wait()))
            buf += b
    return buf.split(b"\n", 1)[0].decode()


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Stops one process by pid; returns its exit status and whether it
    needed SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode, False
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout), False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(), True


# ---- certificates and an FTPS client: ftpa_tls.py --------------------------

from ftpa_tls import Certs, certs, ftps_client  # noqa: E402,F401


# ---- JSON-RPC client -----------------------------------------------------

class RpcError(Exception):
    def __init__(self, err):
        self.error = err
        self.code = err.get("code")
        self.message = err.get("message")
        self.data = err.get("data") or {}
        self.kind = self.data.get("kind")
        Exception.__init__(self, "%s %s (%s)" % (self.code, self.message,
                                                 self.kind))


class Rpc:
    """A minimal JSON-RPC 2.0 client over the agent's Unix socket."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.timeout = timeout
        self.buf = b""
        self.next_id = 1
        self.pending = {}       # replies that came while waiting for others
        self.notifications = []

    def close(self):
        self.sock.close()

    def send_raw(self, data, fds=()):
        if fds:
            n = socket.send_fds(self.sock, [data], list(fds))
            data = data[n:]
        if data:
            self.sock.sendall(data)

    def send(self, method, params=None, id=None, fds=()):
        """Sends a request; returns its id."""
        if id is None:
            id = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "method": method, "id": id}
        if params is not None:
            msg["params"] = params
        self.send_raw(json.dumps(msg, separators=(",", ":")).encode() + b"\n",
                      fds)
        return id

    def recv(self, timeout=None):
        """The next message, or None on EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply from the agent")
            self.sock.settimeout(left)
            b = self.sock.recv(65536)
            if not b:
                return None
            self.buf += b
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def wait_reply(self, id, timeout=None):
        if id in self.pending:
            return self.pending.pop(id)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if m is None:
                raise EOFError("the agent closed the connection")
            if "id" not in m:
                self.notifications.append(m)
                continue
            if m["id"] == id:
                return m
            self.pending[m["id"]] = m

    def call_raw(self, method, params=None, fds=(), timeout=None):
        return self.wait_reply(self.send(method, params, fds=fds), timeout)

    def call(self, method, params=None, fds=(), timeout=None):
        """The result, or RpcError."""
        m = self.call_raw(method, params, fds, timeout)
        if "error" in m:
            raise RpcError(m["error"])
        return m["result"]


def b64(data):
    return base64.b64encode(data).decode()


def unb64(s):
    return base64.b64decode(s)


# ---- processes -------------------------------------------------------------

class Agent:
    def __init__(self, proc, sock, log):
        self.proc, self.sock, self.log = proc, sock, log

    @property
    def pid(self):
        return self.proc.pid

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rpc(self, timeout=30):
        return Rpc(self.sock, timeout)

    def log_size(self):
        return os.path.getsize(self.log)

    def commands(self, since=0):
        """FTP commands the agent sent (its -v log's "-> CMD" lines), from
        byte `since` of the log on (a log_size() taken before)."""
        with open(self.log, "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        return [m.group(1) for m in
                re.finditer(r"^ftpd-agent: -> (.*?)\r?$", text, re.M)]

    def answers(self):
        try:
            r = Rpc(self.sock, 2)
            try:
                return "result" in r.call_raw("agent.ping", timeout=2)
            finally:
                r.close()
        except (OSError, ValueError, EOFError):
            return False


class Server:
    """An FTP server the tests started: url, port, home, user, password."""

    def __init__(self, proc, host, port, user=None, password=None,
                 home=None, log=None):
        self.proc, self.host, self.port = proc, host, port
        self.user, self.password, self.home, self.log = user, password, home, log

    def url(self, path="/", scheme="ftp", with_password=False):
        auth = ""
        if self.user:
            auth = self.user
            if with_password:
                auth += ":" + self.password
            auth += "@"
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s%s:%d%s" % (scheme, auth, host, self.port, path)


class Pyftpd(Server):
    """A pyftpdlib server (start_pyftpd); events() reads its --events log
    when it was started with events=True."""

    events_log = None
    start_args = None

    def events(self, ev=None):
        out = []
        if not self.events_log or not os.path.exists(self.events_log):
            return out
        with open(self.events_log, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break            # being written
                e = json.loads(line)
                if ev is None or e["ev"] == ev:
                    out.append(e)
        return out

    def commands(self):
        """Command lines the server received, in order."""
        return [e["line"] for e in self.events("cmd")]

    def max_connections(self):
        """The most control connections that were open at once."""
        return max([e["count"] for e in self.events("connect")] or [0])


class Mock(Server):
    def events(self, ev=None):
        out = []
        if not os.path.exists(self.log):
            return out
        with open(self.log, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                e = json.loads(line)
                if ev is None or e["ev"] == ev:
                    out.append(e)
        return out

    def received(self):
        """Command lines the mock received, in order."""
        return [e["line"] for e in self.events("recv")]


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        self.text = out.decode("utf-8", "replace")
        self.errtext = err.decode("utf-8", "replace")

    def __repr__(self):
        return "<exit %s stdout=%r stderr=%r>" % (
            self.rc, self.text[:400], self.errtext[:400])

    def json(self):
        return json.loads(self.text)


def run_as(user, func, timeout=60):
    """Runs func() in a forked child with user's uid/gid (root only) and
    returns what it returned (must be JSON-serialisable). An exception in
    the child is raised here as an AssertionError with its text."""
    pw = pwd.getpwnam(user)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            out = {"ok": func()}
        except BaseException as e:  # report everything to the parent
            out = {"exc": "%s: %s" % (type(e).__name__, e)}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError("child as %s timed out" % user)
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    out = json.loads(b"".join(chunks) or b'{"exc": "child died"}')
    if "exc" in out:
        raise AssertionError("as %s: %s" % (user, out["exc"]))
    return out["ok"]


_SANITIZED = None


def sanitized():
    """Whether the agent was built with AddressSanitizer: its RSS then
    holds the allocator's quarantine and says nothing about bounds."""
    global _SANITIZED
    if _SANITIZED is None:
        try:
            with open(AGENT, "rb") as f:
                _SANITIZED = b"__asan_init" in f.read()
        except OSError:
            _SANITIZED = False
    return _SANITIZED


def vsftpd_available():
    return os.path.exists(VSFTPD) and os.geteuid() == 0


TEST_USER = "ftpatest"


def ensure_system_user(name, password):
    """Creates a local user for vsftpd (root only) and sets its password."""
    home = "/srv/" + name     # vsftpd changes into it before local_root
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", home, "--shell", "/bin/bash",
                        name], check=True)
        pw = pwd.getpwnam(name)
    if not os.path.isdir(pw.pw_dir):
        if pw.pw_dir != home:
            subprocess.run(["usermod", "--home", home, name], check=True)
        os.makedirs(home, mode=0o755, exist_ok=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
    subprocess.run(["chpasswd"], input=("%s:%s\n" % (name, password)).encode(),
                   check=True)
    return pwd.getpwnam(name)


class TestCase(unittest.TestCase):
    """Base class with process management; everything started is stopped
    by pid in a cleanup."""

    # Agent exit status after SIGTERM: must be 0 (clean shutdown).
    check_agent_exit = True

    def setUp(self):
        for prog in (AGENT, FTPCTL):
            if not os.access(prog, os.X_OK):
                self.fail("%s is not built (FTPA_BUILDDIR=%s)"
                          % (prog, BUILDDIR))

    def tmpdir(self, mode=0o700, prefix="ftpa-"):
        d = tempfile.mkdtemp(prefix=prefix)
        os.chmod(d, mode)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def _track(self, proc, what, on_stop=None):
        def stop():
            rc, killed = stop_process(proc)
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()
            if on_stop:
                on_stop(rc, killed)
        self.addCleanup(stop)

    # -- the agent
    def start_agent(self, socket_mode=None, extra=(), env=None, sockdir=None):
        d = sockdir or self.tmpdir()
        sock = os.path.join(d, "agent.sock")
        log = os.path.join(self.tmpdir(), "agent.log")
        cmd = [AGENT, "--user", "-f", "-S", sock, "-v"]
        if socket_mode is not None:
            cmd += ["--socket-mode", "%04o" % socket_mode]
        cmd += list(extra)
        e = dict(os.environ)
        e.pop("FTPCTL_PASSWORD", None)
        e["XDG_RUNTIME_DIR"] = d
        e.update(env or {})
        with open(log, "wb") as lf:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=lf, stderr=subprocess.STDOUT,
                                    env=e, start_new_session=True)
        agent = Agent(proc, sock, log)

        def on_stop(rc, killed):
            text = agent.log_text()
            for mark in SANITIZER_MARKS:
                if mark in text:
                    raise AssertionError("sanitizer report in the agent log:\n"
                                         + text[-6000:])
            if killed:
                raise AssertionError("the agent did not exit within 10 s "
                                     "of SIGTERM")
            if self.check_agent_exit and rc != 0:
                raise AssertionError("the agent exited with %s after SIGTERM;"
                                     " log:\n%s" % (rc, text[-3000:]))
        self._track(proc, "agent", on_stop)

        def ready():
            if proc.poll() is not None:
                raise AssertionError("ftpd-agent exited with %s:\n%s"
                                     % (proc.returncode, agent.log_text()))
            return agent.answers()
        wait_until(ready, 15, what="the agent to answer on " + sock)
        return agent

    def pyftpd_session(self, **pyftpd):
        """pyftpdlib (started with start_pyftpd's pyftpd), an agent and a
        session to the one from the other: self.srv, self.agent, self.rpc
        (a connection to the agent) and self.sid."""
        self.srv = self.start_pyftpd(**pyftpd)
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc()
        self.sid = self.rpc.call("session.open", {
            "url": self.srv.url(with_password=True)})["session"]

    # -- FTP servers
    def start_pyftpd(self, user="user", password="secret", tls="none",
                     home=None, cert="server", tls_version=None,
                     host="127.0.0.1", port=0, rate=None, events=False,
                     passive_count=20, byte_names=False):
        """pyftpdlib on a free port. tls: "none", "explicit" or "implicit";
        cert: a Certs name ("server", "selfsigned", "expired",
        "wronghost") or a (cert, key) pair; tls_version "1.2"/"1.3" pins
        the server's protocol version; host "::1" for IPv6.
        port: a fixed port (0: a free one); rate: bytes/s per data
        connection (plain only); events: write pyftpd_server.py's
        --events log (read it with .events()); passive_count: how many
        passive ports; byte_names: names that are not UTF-8 are served
        as bytes (pyftpd_server.py --byte-names). Returns a Pyftpd; restart_pyftpd(srv) starts the
        same server again on the same port."""
        home = home or self.tmpdir(0o755, "ftpa-home-")
        lo, hi = free_port_range(passive_count)
        log = os.path.join(self.tmpdir(), "pyftpd.log")
        cmd = [PYTHON, PYFTPD, "--user", user, "--home", home,
               "--host", host,
               "--passive-ports", "%d-%d" % (lo, hi), "--tls", tls,
               "--log", log]
        if port:
            cmd += ["--port", str(port)]
        if rate:
            cmd += ["--rate", str(int(rate))]
        if byte_names:
            cmd += ["--byte-names"]
        events_log = None
        if events:
            events_log = os.path.join(self.tmpdir(), "pyftpd-events.log")
            cmd += ["--events", events_log]
        if tls != "none":
            c, k = certs().by_name(cert) if isinstance(cert, str) else cert
            cmd += ["--cert", c, "--key", k]
            if tls_version:
                cmd += ["--tls-version", tls_version]
        env = dict(os.environ, PYFTPD_PASSWORD=password)
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, env=env,
                                start_new_session=True)
        self._track(proc, "pyftpdlib")
        line = read_line_from(proc, 15, "pyftpdlib")
        if not line.startswith("ready "):
            self.fail("pyftpdlib said %r" % line)
        srv = Pyftpd(proc, host, int(line.split()[1]), user, password,
                     home, log)
        srv.events_log = events_log
        srv.start_args = dict(user=user, password=password, tls=tls,
                              home=home, cert=cert, tls_version=tls_version,
                              host=host, rate=rate, events=events,
                              passive_count=passive_count,
                              byte_names=byte_names)
        return srv

    def restart_pyftpd(self, srv, kill=True, tries=50):
        """Kills srv (SIGKILL unless kill is False: SIGTERM) if it still
        runs and starts the same server on the same port, retrying while
        the port is busy. Returns the new Pyftpd (its own events log)."""
        stop_process(srv.proc, signal.SIGKILL if kill else signal.SIGTERM)
        args = dict(srv.start_args, port=srv.port)
        for i in range(tries):
            try:
                return self.start_pyftpd(**args)
            except AssertionError:
                if i == tries - 1:
                    raise
                time.sleep(0.1)

    def make_cert(self):
        d = self.tmpdir()
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return cert, key

    def start_vsftpd(self, password="vsftpd-Secret-1", tls=None,
                     cert="server", tls_version=None, strict=True,
                     host="127.0.0.1", extra_conf=()):
        """vsftpd on a free port (root only). tls: None (plain), "explicit"
        (AUTH TLS) or "implicit" (implicit_ssl=YES). With TLS, logins and
        data must use TLS and, when strict, data connections must resume
        the control connection's TLS session (require_ssl_reuse=YES) and
        uploads must end with close_notify (strict_ssl_read_eof=YES).
        tls_version "1.2"/"1.3" pins the protocol version: Debian's vsftpd
        3.0.3 has no switch for it (only ssl_tlsv1 for TLS 1.0), so an
        OPENSSL_CONF with MinProtocol/MaxProtocol is given to it.
        host "::1" makes it listen on IPv6 only; extra_conf lines
        ("name=value") are added to its configuration."""
        if not vsftpd_available():
            self.skipTest("vsftpd tests need root and /usr/sbin/vsftpd")
        pw = ensure_system_user(TEST_USER, password)
        root = tempfile.mkdtemp(prefix="ftpa-vsftpd-")
        self.addCleanup(shutil.rmtree, root, True)
        os.chmod(root, 0o755)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        conf_dir = self.tmpdir()
        port = free_port(host)
        lo, hi = free_port_range(20)
        os.makedirs("/var/run/vsftpd/empty", mode=0o755, exist_ok=True)
        if ":" in host:
            listen = ["listen=NO", "listen_ipv6=YES",
                      "listen_address6=%s" % host]
        else:
            listen = ["listen=YES", "listen_ipv6=NO",
                      "listen_address=%s" % host]
        log = os.path.join(conf_dir, "vsftpd.log")
        conf = os.path.join(conf_dir, "vsftpd.conf")
        with open(conf, "w") as f:
            f.write("\n".join(listen + [
                "listen_port=%d" % port, "background=NO",
                "seccomp_sandbox=NO",
                "anonymous_enable=NO", "local_enable=YES",
                "write_enable=YES", "local_umask=022",
                "local_root=%s" % root,
                "chroot_local_user=YES", "allow_writeable_chroot=YES",
                "secure_chroot_dir=/var/run/vsftpd/empty",
                "pam_service_name=vsftpd", "userlist_enable=NO",
                "pasv_enable=YES", "pasv_min_port=%d" % lo,
                "pasv_max_port=%d" % hi, "port_enable=YES",
                "utf8_filesystem=YES",
                "xferlog_enable=YES", "vsftpd_log_file=%s" % log,
                "dual_log_enable=NO", "syslog_enable=NO",
                "max_clients=0", "max_per_ip=0",
                "idle_session_timeout=600", "data_connection_timeout=120",
                ] + self._vsftpd_tls_conf(tls, cert, strict)
                + list(extra_conf) + [""]))
        os.chmod(conf, 0o600)
        env = dict(os.environ)
        if tls_version:
            env["OPENSSL_CONF"] = self._openssl_conf_pinning(conf_dir,
                                                             tls_version)
        proc = subprocess.Popen([VSFTPD, conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env,
                                start_new_session=True)
        self._track(proc, "vsftpd")

        def greets():
            if proc.poll() is not None:
                raise AssertionError("vsftpd exited with %s: %s" % (
                    proc.returncode, proc.stderr.read().decode()))
            try:
                with socket.create_connection((host, port), 1) as s:
                    if tls == "implicit":   # accepts: good enough
                        return True
                    return s.recv(100).startswith(b"220")
            except OSError:
                return False
        wait_until(greets, 15, what="vsftpd to greet")
        return Server(proc, host, port, TEST_USER, password, root, log)

    @staticmethod
    def _vsftpd_tls_conf(tls, cert, strict):
        if not tls or tls == "none":
            return ["ssl_enable=NO"]
        if tls not in ("explicit", "implicit"):
            raise ValueError("tls must be None, explicit or implicit")
        c, k = certs().by_name(cert) if isinstance(cert, str) else cert
        return [
            "ssl_enable=YES", "rsa_cert_file=%s" % c,
            "rsa_private_key_file=%s" % k,
            "implicit_ssl=%s" % ("YES" if tls == "implicit" else "NO"),
            "allow_anon_ssl=NO", "force_local_logins_ssl=YES",
            "force_local_data_ssl=YES",
            "ssl_sslv2=NO", "ssl_sslv3=NO", "ssl_tlsv1=NO",
            # 3.0.3's default is DES-CBC3-SHA, which OpenSSL 3 refuses
            "ssl_ciphers=HIGH:!aNULL:!MD5",
            "ssl_request_cert=NO", "require_cert=NO",
            "require_ssl_reuse=%s" % ("YES" if strict else "NO"),
            "strict_ssl_read_eof=%s" % ("YES" if strict else "NO"),
            "strict_ssl_write_shutdown=NO", "debug_ssl=YES",
        ]

    @staticmethod
    def _openssl_conf_pinning(d, version):
        v = {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}[version]
        path = os.path.join(d, "openssl-pin.cnf")
        with open(path, "w") as f:
            f.write("openssl_conf = pin_init\n"
                    "[pin_init]\nssl_conf = pin_ssl\n"
                    "[pin_ssl]\nsystem_default = pin_proto\n"
                    "[pin_proto]\nMinProtocol = %s\nMaxProtocol = %s\n"
                    % (v, v))
        return path

    def start_mock(self, scenario=None, script=None, host="127.0.0.1",
                   idle=60, cert=None):
        """tests/ftpmock.py playing a scenario or a script. cert: a Certs
        name or (cert, key) pair for TLS steps; scenarios named tls_* get
        the CA-signed "server" certificate by default."""
        d = self.tmpdir()
        log = os.path.join(d, "mock.log")
        cmd = [PYTHON, FTPMOCK, "--host", host, "--log", log,
               "--idle", str(idle)]
        if cert is None and scenario and scenario.startswith("tls_"):
            cert = "server"
        if cert is not None:
            c, k = certs().by_name(cert) if isinstance(cert, str) else cert
            cmd += ["--cert", c, "--key", k]
        if scenario:
            cmd += ["--scenario", scenario]
        else:
            path = os.path.join(d, "script")
            with open(path, "w") as f:
                try:
                    f.write(json.dumps(script))
                except TypeError:      # bytes in it: write a Python literal
                    f.write(repr(script))
            cmd += ["--script", path]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                start_new_session=True)
        self._track(proc, "ftpmock")
        port = int(read_line_from(proc, 15, "ftpmock"))
        return Mock(proc, host, port, "test", "mockpw", None, log)

    # -- clients
    def ftpctl(self, agent, *args, input=None, password=None, env=None,
               timeout=300, user=None, cwd=None, socket=True):
        """Runs ftpctl -S SOCK ARGS...; returns a Result."""
        cmd = [FTPCTL]
        if socket:
            sock = agent if isinstance(agent, str) else agent.sock
            cmd += ["-S", sock]
        cmd += [a if isinstance(a, bytes) else str(a) for a in args]
        e = {k: v for k, v in os.environ.items()
             if k not in ("FTPCTL_PASSWORD", "FTPAGENT_SOCKET")}
        e["HOME"] = self._home()
        if password is not None:
            e["FTPCTL_PASSWORD"] = password
        e.update(env or {})
        pre = None
        if user is not None:
            pw = pwd.getpwnam(user)

            def pre():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        try:
            p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=e, cwd=cwd,
                               timeout=timeout, preexec_fn=pre)
        except subprocess.TimeoutExpired as ex:
            self.fail("ftpctl %s: no exit within %ss (stderr %r)"
                      % (" ".join(cmd[1:]), timeout, ex.stderr))
        return Result(p.returncode, p.stdout, p.stderr)

    def _home(self):
        # An empty home, so no ~/.netrc of the machine's user gets in.
        if not hasattr(self, "_home_dir"):
            self._home_dir = self.tmpdir(0o755)
        return self._home_dir

    def ok(self, res, msg=""):
        """Asserts a Result exited 0."""
        self.assertEqual(res.rc, 0, "%s%r" % (msg and msg + ": ", res))
        return res

    def assertRpcError(self, reply, code=None, kind=None):
        """reply is a raw reply dict; checks it is an error."""
        self.assertIn("error", reply, "expected an error, got %r" % (reply,))
        err = reply["error"]
        if code is not None:
            self.assertEqual(err.get("code"), code, err)
        if kind is not None:
            self.assertEqual((err.get("data") or {}).get("kind"), kind, err)
        return err


def main():
    """unittest.main, with Automake's exit codes (77 when all skipped)."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    if r.testsRun and len(r.skipped) == r.testsRun:
        sys.exit(77)
    sys.exit(0)
