"""The local side of transfer.tree, in Python, for the integration tests.

docs/protocol.md, "Trees: transfer.tree and the local side (issue 16)":
the agent never touches a tree's local files itself; it sends `local.*`
requests (ids "a1", "a2", ...) on the connection that called
transfer.tree, and that connection does each one beneath the directory
its caller chose. LocalSide is such a caller:

    side = LocalSide(root)
    reply = side.tree(rpc, {"session": sid, "direction": "get",
                            "path": "/pub", "items": True})

tree() sends transfer.tree on an ftpa.Rpc, serves every local.* request
until the reply comes, and returns the raw reply (a dict with "result" or
"error"). Everything it saw is recorded for the test to assert on:

  requests    [(method, params)] every request of the agent, in order
  answers     [(id, method, outcome)] what was answered ("ok", an error
              kind, "held" for one never answered, "closed")
  refused     [(method, path, reason)] requests whose path it had to
              refuse: not a string, absolute, an empty, "." or ".."
              component, a NUL (the agent must never send one)
  anomalies   [text] requests that broke the contract otherwise (no or
              a wrong job / request member, an unknown id form, ...)
  items       [params] tree.item notifications
  progress    [params] job.progress notifications
  other       [msg] any other notification or stray reply

Paths are taken in the byte-safe form of protocol.md ("Names that are
not UTF-8": U+F780..U+F7FF stand for the bytes 0x80..0xff) and resolved
beneath the root one component at a time with O_NOFOLLOW (a link is
never followed; Python has no openat2). Names in local.list results are
sent in that form too.

Misbehaviour, to see what the agent makes of it:

  slow={"local.open": 2.5}     answer that method after 2.5 s (other
                               requests are served meanwhile)
  never={"local.open"}         never answer that method
  errors={"local.commit": "permission"}   answer with that error kind
  unserved={"local.remove"}    answer -32601 (method not found)
  close_on=("local.open", 3)   close the connection when the 3rd such
                               request arrives (tree() then returns None)
  hook=f                       f(method, params) -> None (as configured)
                               | ("delay", secs) | ("never",)
                               | ("error", kind) | ("close",) | ("ok",)
                               | ("result", obj[, fds]): that result (and
                                 those descriptors, closed here once sent)
                               | ("raw", bytes): those bytes as the answer
                               | ("edit", f): the normal answer's result
                                 passed through f(result) first
                               | ("ok", f): the normal answer, then f(id)
"""

import errno
import json
import os
import socket
import stat
import time

import ftpa

# ---- byte-safe names (protocol/bytename.c, mirrored) ---------------------

ESC_BASE = 0xF700


def _utf8_seq(b, i):
    """Length of the valid UTF-8 sequence at b[i:], 0 if none (as
    ftpa_utf8_seq)."""
    n = len(b) - i
    if n <= 0:
        return 0
    c = b[i]
    if c < 0x80:
        return 1
    if 0xC2 <= c <= 0xDF:
        need, cp, lo = 1, c & 0x1F, 0x80
    elif 0xE0 <= c <= 0xEF:
        need, cp, lo = 2, c & 0x0F, 0x800
    elif 0xF0 <= c <= 0xF4:
        need, cp, lo = 3, c & 0x07, 0x10000
    else:
        return 0
    if n < need + 1:
        return 0
    for k in range(1, need + 1):
        if b[i + k] & 0xC0 != 0x80:
            return 0
        cp = (cp << 6) | (b[i + k] & 0x3F)
    if cp < lo or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
        return 0
    return need + 1


def _is_escape(b, i):
    return (len(b) - i >= 3 and b[i] == 0xEF and b[i + 1] in (0x9E, 0x9F)
            and b[i + 2] & 0xC0 == 0x80)


def name_escape(raw):
    """bytes -> the wire's str (each byte that is not UTF-8, and each
    byte of a real U+F780..U+F7FF, as U+F700 + byte)."""
    out = []
    i = 0
    while i < len(raw):
        n = 1 if raw[i] < 0x80 else _utf8_seq(raw, i)
        if n and not _is_escape(raw, i):
            out.append(raw[i:i + n].decode("utf-8"))
            i += n
            continue
        n = n or 1
        out.extend(chr(ESC_BASE + x) for x in raw[i:i + n])
        i += n
    return "".join(out)


def name_unescape(s):
    """The wire's str -> bytes."""
    out = bytearray()
    for ch in s:
        o = ord(ch)
        if 0xF780 <= o <= 0xF7FF:
            out.append(o - ESC_BASE)
        else:
            out += ch.encode("utf-8", "surrogatepass")
    return bytes(out)


# ---- errors ---------------------------------------------------------------

class LocalError(Exception):
    def __init__(self, kind, message):
        Exception.__init__(self, message)
        self.kind, self.message = kind, message


def _kind_of(e):
    return {errno.ENOENT: "not_found", errno.ENOTDIR: "not_found",
            errno.EEXIST: "exists", errno.ENOTEMPTY: "exists",
            errno.EACCES: "permission", errno.EPERM: "permission",
            errno.ELOOP: "permission"}.get(e.errno, "local_io")


def error_object(kind, message):
    if kind == "method":
        return {"code": ftpa.E_METHOD, "message": message,
                "data": {"kind": "method"}}
    return {"code": ftpa.KIND_CODES.get(kind, ftpa.KIND_CODES["local_io"]),
            "message": message, "data": {"kind": kind}}


O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_path(p, allow_root):
    """None when p is a path the agent may send, else why not."""
    if not isinstance(p, str):
        return "not a string: %r" % (p,)
    if p == "":
        return None if allow_root else "the root itself"
    if "\x00" in p:
        return "NUL in %r" % p
    if p.startswith("/"):
        return "absolute: %r" % p
    for c in p.split("/"):
        if c in ("", ".", ".."):
            return "component %r in %r" % (c, p)
    return None


# ---- the local side ----------------------------------------------------------

class LocalSide:
    METHODS = ("local.list", "local.mkdir", "local.open", "local.commit",
               "local.remove")

    def __init__(self, root, slow=None, never=(), errors=None, unserved=(),
                 close_on=None, hook=None):
        self.root = os.fsencode(root)
        self.slow = dict(slow or {})
        self.never = set(never)
        self.errors = dict(errors or {})
        self.unserved = set(unserved)
        self.close_on = close_on
        self.hook = hook
        self.requests = []
        self.answers = []
        self.refused = []
        self.anomalies = []
        self.items = []
        self.progress = []
        self.other = []
        self.replies = {}
        self.job = None
        self.request_id = None
        self.closed = False
        self.counts = {}
        self._due = []          # [(monotonic, id, method, params)]
        self.held = []          # [(id, method, params)] never answered

    # -- what tests look at
    def methods(self):
        return [m for m, _ in self.requests]

    def paths(self, method=None):
        return [p.get("path") for m, p in self.requests
                if method is None or m == method]

    def item_actions(self):
        """{path: [action...]} of the tree.item notifications."""
        out = {}
        for it in self.items:
            out.setdefault(it.get("path"), []).append(it.get("action"))
        return out

    # -- driving
    def tree(self, rpc, params, timeout=120, idle=None):
        """Calls transfer.tree on rpc and serves it until its reply;
        returns the reply (None when this side closed the connection).
        timeout: the whole call; idle: at most this long without any
        message from the agent. Raises AssertionError on either."""
        self.rpc = rpc
        rid = rpc.send("transfer.tree", params)
        self.request_id = rid
        self.serve(lambda: rid in self.replies, timeout, idle,
                   what="the reply to transfer.tree")
        if self.closed:
            return None
        return self.replies.pop(rid)

    def start(self, rpc, params):
        """Sends transfer.tree and returns its id, serving nothing yet
        (serve() does)."""
        self.rpc = rpc
        self.request_id = rpc.send("transfer.tree", params)
        return self.request_id

    def serve(self, until, timeout, idle=None, what="the condition"):
        """Serves local.* requests until until() is true (or this side
        closed the connection)."""
        rpc = self.rpc
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while not self.closed and not until():
            now = time.monotonic()
            self._run_due(now)
            if self.closed or until():
                break
            if now > deadline:
                raise AssertionError(
                    "timed out after %gs waiting for %s; %d requests (last "
                    "%r), %d items" % (timeout, what, len(self.requests),
                                      self.requests[-1:], len(self.items)))
            if idle is not None and now - last > idle:
                raise AssertionError(
                    "nothing from the agent for %gs waiting for %s; last "
                    "request %r" % (idle, what, self.requests[-1:]))
            wait = min(deadline - now, 0.5)
            if self._due:
                wait = min(wait, max(0.0, self._due[0][0] - now))
            try:
                m = rpc.recv(max(0.01, wait))
            except socket.timeout:
                continue
            except OSError as e:
                raise AssertionError("connection to the agent failed while "
                                     "waiting for %s: %s" % (what, e))
            if m is None:
                raise AssertionError("the agent closed the connection while "
                                     "waiting for %s" % what)
            last = time.monotonic()
            self.handle(m)

    def close(self):
        if not self.closed:
            self.closed = True
            self.rpc.close()

    # -- messages
    def handle(self, m):
        if not isinstance(m, dict):
            self.anomalies.append("not an object: %r" % (m,))
            return
        if "method" in m and "id" in m:
            self._request(m)
        elif "method" in m:
            p = m.get("params")
            if m["method"] == "tree.item":
                self.items.append(p)
            elif m["method"] == "job.progress":
                self.progress.append(p)
                if self.job is None and isinstance(p, dict):
                    self.job = p.get("job")
            else:
                self.other.append(m)
        elif "id" in m:
            self.replies[m["id"]] = m
        else:
            self.other.append(m)

    def _request(self, m):
        mid, method = m["id"], m["method"]
        params = m.get("params")
        if not isinstance(params, dict):
            self.anomalies.append("params not an object: %r" % (m,))
            params = {}
        self.requests.append((method, params))
        if not isinstance(mid, str) or not mid.startswith("a"):
            self.anomalies.append("id %r is not of the form a<N>" % (mid,))
        if "job" not in params or "request" not in params:
            self.anomalies.append("%s without job/request: %r"
                                  % (method, params))
        else:
            if self.job is None:
                self.job = params["job"]
            elif params["job"] != self.job:
                self.anomalies.append("%s for job %r, not %r"
                                      % (method, params["job"], self.job))
            if (self.request_id is not None
                    and params["request"] != self.request_id):
                self.anomalies.append("%s with request %r, not %r"
                                      % (method, params["request"],
                                         self.request_id))
        n = self.counts.get(method, 0) + 1
        self.counts[method] = n
        how = None
        if self.hook is not None:
            how = self.hook(method, params)
        if how is None:
            if self.close_on and self.close_on == (method, n):
                how = ("close",)
            elif method in self.never:
                how = ("never",)
            elif method in self.errors:
                how = ("error", self.errors[method])
            elif method in self.slow:
                how = ("delay", self.slow[method])
            else:
                how = ("ok",)
        if how[0] == "close":
            self.answers.append((mid, method, "closed"))
            self.close()
        elif how[0] == "never":
            self.answers.append((mid, method, "held"))
            self.held.append((mid, method, params))
        elif how[0] == "error":
            self._send(mid, error=error_object(
                how[1], "simulated %s failure" % how[1]))
            self.answers.append((mid, method, how[1]))
        elif how[0] == "result":
            fds = list(how[2]) if len(how) > 2 else []
            try:
                self._send(mid, result=how[1], fds=fds)
            finally:
                for fd in fds:
                    os.close(fd)
            self.answers.append((mid, method, "result"))
        elif how[0] == "raw":
            try:
                self.rpc.send_raw(how[1])
            except OSError as e:
                self.anomalies.append("could not answer %r: %s" % (mid, e))
            self.answers.append((mid, method, "raw"))
        elif how[0] == "edit":
            self._answer(mid, method, params, how[1])
        elif how[0] == "delay":
            self._due.append((time.monotonic() + how[1], mid, method, params))
            self._due.sort(key=lambda x: x[0])
        else:
            self._answer(mid, method, params)
            if len(how) > 1:
                how[1](mid)

    def _run_due(self, now):
        while self._due and self._due[0][0] <= now and not self.closed:
            _, mid, method, params = self._due.pop(0)
            self._answer(mid, method, params)

    def _send(self, mid, result=None, error=None, fds=()):
        msg = {"jsonrpc": "2.0", "id": mid}
        if error is not None:
            msg["error"] = error
        else:
            msg["result"] = result
        data = json.dumps(msg, separators=(",", ":")).encode() + b"\n"
        try:
            self.rpc.send_raw(data, fds)
        except OSError as e:
            self.anomalies.append("could not answer %r: %s" % (mid, e))

    def _answer(self, mid, method, params, edit=None):
        if method in self.unserved or method not in self.METHODS:
            self._send(mid, error=error_object("method",
                                               "Method not found"))
            self.answers.append((mid, method, "method"))
            return
        fds = []
        try:
            result, fds = getattr(self, "op_" + method[6:])(method, params)
            if edit is not None:
                result = edit(result)
        except LocalError as e:
            self._send(mid, error=error_object(e.kind, e.message))
            self.answers.append((mid, method, e.kind))
            return
        except OSError as e:
            kind = _kind_of(e)
            self._send(mid, error=error_object(kind, "%s: %s" % (
                params.get("path"), e.strerror)))
            self.answers.append((mid, method, kind))
            return
        try:
            self._send(mid, result=result, fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        self.answers.append((mid, method, "ok"))

    # -- resolving paths beneath the root
    def _parts(self, method, params, allow_root):
        p = params.get("path")
        why = check_path(p, allow_root)
        if why is None and p:
            for c in p.split("/"):
                raw = name_unescape(c)
                if b"/" in raw or b"\x00" in raw:
                    why = "component %r decodes to %r" % (c, raw)
        if why is not None:
            self.refused.append((method, p, why))
            raise LocalError("local_io", "refused path: " + why)
        return [name_unescape(c) for c in p.split("/")] if p else []

    def _open_dir(self, parts):
        fd = os.open(self.root, O_DIR)
        try:
            for c in parts:
                nfd = os.open(c, O_DIR, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    # -- the five methods; each returns (result, fds)
    def op_list(self, method, params):
        fd = self._open_dir(self._parts(method, params, True))
        try:
            entries = []
            for name in sorted(os.listdir(fd)):
                raw = os.fsencode(name)
                try:
                    st = os.stat(raw, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                target = None
                if stat.S_ISREG(st.st_mode):
                    kind = "file"
                elif stat.S_ISDIR(st.st_mode):
                    kind = "dir"
                elif stat.S_ISLNK(st.st_mode):
                    kind = "link"
                    target = name_escape(os.readlink(raw, dir_fd=fd))
                else:
                    kind = "other"
                entries.append({
                    "name": name_escape(raw), "type": kind,
                    "size": st.st_size if kind == "file" else None,
                    "mtime": int(st.st_mtime),
                    "perm": stat.S_IMODE(st.st_mode), "target": target})
            return {"entries": entries}, []
        finally:
            os.close(fd)

    def op_mkdir(self, method, params):
        parts = self._parts(method, params, True)
        if not parts:
            return {}, []
        fd = self._open_dir(parts[:-1])
        try:
            try:
                os.mkdir(parts[-1], 0o777, dir_fd=fd)
            except FileExistsError:
                st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    raise LocalError("exists", "%s exists and is not a "
                                     "directory" % params["path"])
            return {}, []
        finally:
            os.close(fd)

    def op_open(self, method, params):
        parts = self._parts(method, params, False)
        write = params.get("write")
        if not isinstance(write, bool):
            self.anomalies.append("local.open without a boolean write: %r"
                                  % (params,))
        fd = self._open_dir(parts[:-1])
        try:
            if write:
                flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                if not params.get("resume"):
                    flags |= os.O_TRUNC
                f = os.open(parts[-1] + b".part", flags, 0o666, dir_fd=fd)
            else:
                f = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW
                            | os.O_CLOEXEC, dir_fd=fd)
        finally:
            os.close(fd)
        st = os.fstat(f)
        if not stat.S_ISREG(st.st_mode):
            os.close(f)
            raise LocalError("local_io", "%s is not a regular file"
                             % params["path"])
        return {"fd": 0, "size": st.st_size}, [f]

    def op_commit(self, method, params):
        parts = self._parts(method, params, False)
        fd = self._open_dir(parts[:-1])
        try:
            name = parts[-1]
            os.rename(name + b".part", name, src_dir_fd=fd, dst_dir_fd=fd)
            mtime = params.get("mtime")
            if mtime is not None:
                os.utime(name, (mtime, mtime), dir_fd=fd,
                         follow_symlinks=False)
            perm = params.get("perm")
            if perm is not None:
                f = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                            dir_fd=fd)
                try:
                    os.fchmod(f, perm & 0o777)
                finally:
                    os.close(f)
            return {}, []
        finally:
            os.close(fd)

    def op_remove(self, method, params):
        parts = self._parts(method, params, False)
        fd = self._open_dir(parts[:-1])
        try:
            st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if params.get("recursive"):
                    _rmtree_at(fd, parts[-1])
                else:
                    os.rmdir(parts[-1], dir_fd=fd)
            else:
                os.unlink(parts[-1], dir_fd=fd)
            return {}, []
        finally:
            os.close(fd)


def _rmtree_at(dirfd, name):
    """Removes the directory name beneath dirfd with everything in it,
    never following a link."""
    fd = os.open(name, O_DIR, dir_fd=dirfd)
    try:
        for n in os.listdir(fd):
            raw = os.fsencode(n)
            st = os.stat(raw, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                _rmtree_at(fd, raw)
            else:
                os.unlink(raw, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dirfd)


# ---- helpers for tests ---------------------------------------------------------

def job_of(reply):
    """The job object of a transfer.tree reply (result, or the error's
    data.job), or None."""
    if reply is None:
        return None
    if "result" in reply:
        return reply["result"]
    return ((reply.get("error") or {}).get("data") or {}).get("job")


def snapshot(root):
    """{relative bytes path: (kind, size, mtime, sha256 or None)} of
    everything beneath root (links not followed)."""
    out = {}
    root = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_size, int(st.st_mtime),
                            ftpa.sha256_file(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", None, None, None)
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", None, None, os.readlink(p))
            else:
                out[rel] = ("other", None, None, None)
    return out
