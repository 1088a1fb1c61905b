#!/usr/bin/python3
"""ftpmock: a scripted, misbehaving FTP server for tests (stdlib only).

    ftpmock.py (--script FILE | --scenario NAME) [--host 127.0.0.1] [--port 0]
               [--log FILE] [--idle SECS] [--cert PEM --key PEM]
    ftpmock.py --list-scenarios

It listens on --host (127.0.0.1 or ::1), prints the port it listens on as
one line on stdout when ready, and plays a script on every control
connection it accepts, each in its own thread.

A script is a JSON file or a Python literal (so b"..." bytes work), either a
list of steps, or an object:

    {"steps": [...],            # default steps for every control connection
     "connections": [[...], [...]],  # steps of the 1st, 2nd... connection
     "auto": {"SIZE": "213 5\\r\\n"}}, # extra automatic replies (see below)
     "cert": PEM, "key": PEM,    # TLS certificate (else --cert/--key)
     "tls_version": "1.2"|"1.3"} # pin the TLS version (default: 1.2 or 1.3)

Steps run in order; each is an object with one action key:

  {"send": TEXT}          raw bytes (str is encoded as latin-1, so "\\xff"
                          is one byte; bytes literals are taken as they are;
                          a list is concatenated). Options: "repeat": N
                          (send TEXT N times), "chunk": N (write N bytes at a
                          time; "chunks" is accepted too), "delay": S
                          (seconds between chunks, default 0.01 when
                          chunking), "after": S (sleep before sending).
  {"expect": PATTERN}     read one command line; it matches when it starts
                          with PATTERN (case-insensitive) or PATTERN, as a
                          regular expression, matches at its start. Options:
                          "reply": TEXT (sent on a match), "else": TEXT
                          (sent on a mismatch; default 500), "timeout": S.
                          On a mismatch the line is logged and answered
                          from the automatic replies if its verb has one,
                          else with "else"/500, and the step keeps waiting:
                          a client that sends commands the script does not
                          care about (FEAT, TYPE, OPTS...) gets on.
  {"pasv": true|{...}}    wait for PASV or EPSV, open a data listener on the
                          control connection's local address and answer 227
                          (PASV) or 229 (EPSV) with its port. Options (in
                          the step): "address": "10.0.0.1" (address named in
                          the 227; default the real one), "port": N (port
                          named instead of the real one, for malformed
                          replies), "reply": TEXT (raw reply; {h1}..{h4},
                          {p1}, {p2} and {port} are filled in), "epsv":
                          false (answer EPSV with 500 so the client must
                          fall back to PASV), "epsv_reply": TEXT, "expect":
                          false (do not read a command, just open the
                          listener and reply).
  {"active": true|{...}}  wait for PORT or EPRT, reply 200; the next data
                          step connects to the address given. Options (in
                          the step or the object): "source": "127.0.0.2"
                          (connect from this address; loopback allows any
                          127.x), "connect": false (never connect), "reply":
                          TEXT (instead of the 200). A connect that fails
                          is logged ("error") and the data step skipped.
  {"data": PAYLOAD}       send PAYLOAD on the data connection (text/bytes, or
                          an int N: N bytes of payload(N, seed)). Options:
                          "seed" (default 0), "limit": N (send only the
                          first N bytes: a short transfer), "delay": S
                          (before sending), "chunk", "chunk_delay", "end":
                          "close" (default; under TLS with close_notify) |
                          "reset" (RST) | "truncate" (under TLS: a TCP
                          close without close_notify; without TLS like
                          "close") | "stall" (keep it open without sending
                          more),
                          "stall": S (how long to stall; default until the
                          control connection closes, at most 120 s),
                          "timeout": S (wait for the data connection),
                          "rest": true (start at the offset of the last
                          REST command of this connection, as a server
                          resuming a download would; "limit" then counts
                          from there; the offset is used up),
                          "answer": true (between chunks, answer control
                          commands such as NOOP from the automatic
                          replies while the data flows, as servers that
                          read their control connection during a transfer
                          do; without it they wait, vsftpd-like, until the
                          script reads again; "chunk" defaults to 65536).
  {"recv_data": true}     read an upload to EOF and log its size and sha256
                          (under TLS also "close_notify": whether the
                          upload ended with one rather than a bare EOF).
                          Options: "delay": S (wait S seconds after the
                          connection, and its TLS handshake, before
                          reading: a slow server).
                          Options: "limit": N (close after N bytes),
                          "timeout": S.
  {"close_data": true}    close the data connection and listener.
  {"starttls": true}      TLS on the control connection from here on
                          (server side, Python's ssl, --cert/--key): send
                          the 234 first with a send or expect step; as the
                          first step it makes an implicit-TLS server. Bytes
                          the client sent in cleartext behind its AUTH are
                          logged (event "cleartext_pipelined") and dropped.
                          A failed handshake logs "tls_error" and closes.
                          Options: "timeout": S (handshake, default 10).
                          Once TLS is on, "recv" events carry "tls": true.
  {"tls_data": BOOL}      TLS on data connections (server side, after the
                          TCP connection is made) from here on, or not. A
                          2xx reply to "PROT P" (scripted or automatic)
                          turns it on, one to "PROT C" off. Each data
                          handshake logs "data_tls" with "version" and
                          "reused" (the client resumed the control
                          connection's TLS session).
  {"handshake_data": {...}} the data connection's TLS handshake now, before
                          any 1xx (as servers that answer a transfer
                          command only once it is done). Options:
                          "timeout": S (default 5), "fail": TEXT (sent when
                          no handshake came in time; default a 425). A
                          failure logs "tls_error" (where "data") and ends
                          the script: automatic replies from then on.
  {"fs": {...}}           serve a small file tree from here on (see
                          ftpmock_fs.py): CWD, CDUP, PWD, LIST, NLST,
                          SIZE, MDTM, RETR, until the client leaves.
                          Options: "tree" (nested dicts; a file is its
                          size), "list_split": true (LIST splits its
                          argument at white space and takes words that
                          start with "-" for options, as servers that
                          run /bin/ls do).
  {"tree": {...}}         serve a tree of byte names, hostile ones and
                          loops included, LIST only (see ftpmock_tree.py:
                          also its scenarios, tree_*).
  {"halfclose_data": S}   shut the data connection for writing, read
                          nothing from it for S seconds, then close it.
  {"close": true}         close the control connection (ends the script).
                          {"close": "reset"} sends a RST instead.
  {"sleep": S}            sleep S seconds (reading nothing).
  {"quiet": S}            answer commands from the automatic replies until
                          none came for S seconds (an idle connection).
  {"auto": {...}}         change automatic replies from here on (a value of
                          null removes one).
  {"mark": TEXT}          write TEXT to the log.

When the steps run out, the connection keeps answering from the automatic
replies (QUIT gets 221 and a close) until the client closes or --idle
seconds pass without a command. The default automatic replies cover FEAT,
SYST, PWD, TYPE, OPTS, NOOP, MODE, STRU, CWD and QUIT; an automatic reply of
"<close>" closes the connection instead of answering, "<none>" sends
nothing, and "<pasv>" (for PASV and EPSV) opens a new data listener and
answers 227/229 as a {"pasv": true} step would, so scripts need not know how
many data connections a client opens. An automatic reply may also be keyed
by a whole command line ("DELE /dir", case-insensitive); it is preferred to
the one of its verb.

A data step with "end": "stall" keeps reading commands; an ABOR then closes
the data connection and is answered with the automatic reply for "ABOR"
(default "426 Transfer aborted." + "226 ABOR ok."; "<none>": silence), and
the script goes on. Telnet IP/Synch bytes (IAC IP IAC DM) in front of a
command are logged ("telnet") and stripped.

The log (--log) is JSON lines: {"t": seconds, "conn": N, "ev": EVENT, ...}.
Events: listen, accept, recv (with "line" = the command as latin-1 text
without its line end, and "eol"), send, mismatch, data_listen, data_accept
(with "peer"), data_connect (with "cmd", "source"), data_sent / data_recv (with "bytes" and
"sha256"), close, eof, timeout, error, mark, tls (with "version",
"cipher"), data_tls, tls_error (with "msg", "where": "control"/"data"),
cleartext_pipelined.
"""

import argparse
import ast
import hashlib
import json
import select
import ssl
import os
import random
import re
import socket
import struct
import sys
import threading
import time

import ftpmock_fs
import ftpmock_tree

DEFAULT_AUTO = {
    "FEAT": "211-Features:\r\n SIZE\r\n MDTM\r\n UTF8\r\n EPSV\r\n211 End\r\n",
    "SYST": "215 UNIX Type: L8\r\n",
    "PWD": '257 "/" is the current directory\r\n',
    "TYPE": "200 Type set.\r\n",
    "OPTS": "200 OK.\r\n",
    "NOOP": "200 NOOP ok.\r\n",
    "MODE": "200 Mode set.\r\n",
    "STRU": "200 Structure set.\r\n",
    "CWD": "250 Directory changed.\r\n",
    "QUIT": "221 Goodbye.\r\n",
}

MAX_LINE = 65536


def payload(size, seed=0):
    """The deterministic bytes a {"data": N, "seed": S} step sends."""
    return random.Random(seed).randbytes(size)


def to_bytes(v):
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("latin-1")
    if isinstance(v, list):
        return b"".join(to_bytes(x) for x in v)
    raise ValueError("not text: %r" % (v,))


# the built-in scenarios and the helpers that build them, re-exported so
# that tests can write `from ftpmock import login, retr`
from ftpmock_scenarios import *  # noqa: E402,F401,F403
from ftpmock_scenarios import SCENARIOS  # noqa: E402
SCENARIOS.update(ftpmock_tree.SCENARIOS)

# ---- the server -----------------------------------------------------------

class Log:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8") if path else None
        self.t0 = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, conn, ev, **kw):
        rec = {"t": round(time.monotonic() - self.t0, 4), "conn": conn,
               "ev": ev}
        rec.update(kw)
        line = json.dumps(rec, ensure_ascii=True)
        with self.lock:
            if self.f:
                self.f.write(line + "\n")
                self.f.flush()
            else:
                sys.stderr.write(line + "\n")


class ScriptEnd(Exception):
    """The rest of the script is skipped: automatic replies from here."""


class Closed(Exception):
    pass


class DataListener:
    """A passive-mode listener accepting one data connection in a thread."""

    def __init__(self, host, family):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.conn = None
        self.peer = None
        self.ready = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        try:
            self.conn, self.peer = self.sock.accept()
        except OSError:
            pass
        self.ready.set()

    def wait(self, timeout):
        self.ready.wait(timeout)
        return self.conn

    def close(self):
        for s in (self.sock, self.conn):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


class ActiveTarget:
    """Where PORT/EPRT told us to connect."""

    def __init__(self, host, port, source=None, connect=True):
        self.host, self.port = host, port
        self.source, self.connect_ok = source, connect
        self.conn = None
        self.peer = None

    def wait(self, timeout):
        if self.conn is None and self.connect_ok:
            fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(timeout)
            if self.source:
                s.bind((self.source, 0))
            s.connect((self.host, self.port))
            s.settimeout(None)
            self.local = s.getsockname()[0]
            self.conn, self.peer = s, (self.host, self.port)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()


class Session:
    def __init__(self, server, sock, idx, steps, auto):
        self.server, self.sock, self.idx = server, sock, idx
        self.steps = steps
        self.auto = dict(DEFAULT_AUTO)
        self.auto.update(auto)
        self.buf = b""
        self.data = None
        self.last_cmd = None
        self.closed = False
        self.tls = False          # control connection under TLS
        self.tls_data = False     # wrap data connections
        self.rest_offset = 0      # the last REST's argument

    def log(self, ev, **kw):
        self.server.log(self.idx, ev, **kw)

    # -- control connection I/O
    def send(self, data, chunk=None, delay=None):
        data = to_bytes(data)
        if not chunk:
            self.sock.sendall(data)
        else:
            if delay is None:
                delay = 0.01
            for i in range(0, len(data), chunk):
                self.sock.sendall(data[i:i + chunk])
                if delay:
                    time.sleep(delay)
        self.log("send", text=data[:2000].decode("latin-1"), bytes=len(data))

    def readline(self, timeout, soft=False):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                self.log("error", msg="command line too long")
                raise Closed()
            left = deadline - time.monotonic()
            if left <= 0:
                if soft:
                    return None
                self.log("timeout", waiting="command")
                raise Closed()
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                self.log("error", msg=str(e))
                raise Closed()
            if not chunk:
                if self.buf:
                    self.log("recv", line=self.buf.decode("latin-1"), eol="")
                self.log("eof")
                raise Closed()
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        eol = "\n"
        if raw.endswith(b"\r"):
            raw, eol = raw[:-1], "\r\n"
        telnet = b""
        while raw[:1] in (b"\xff", b"\xf4", b"\xf2"):
            telnet, raw = telnet + raw[:1], raw[1:]   # IAC IP IAC DM (ABOR)
        if telnet:
            self.log("telnet", bytes=telnet.hex())
        line = raw.decode("latin-1")
        if self.verb(line) == "REST":
            try:
                self.rest_offset = max(0, int(line.split(" ", 1)[1]))
            except (IndexError, ValueError):
                pass
        if self.tls:
            self.log("recv", line=line, eol=eol, tls=True)
        else:
            self.log("recv", line=line, eol=eol)
        return line

    def verb(self, line):
        return line.split(" ", 1)[0].upper()

    def answer_auto(self, line, fallback=None):
        """Answers a line the script was not waiting for."""
        v = self.verb(line)
        reply = self.auto.get(line.upper())
        if reply is None:
            reply = self.auto.get(v)
        if reply is None:
            reply = fallback or "500 Unknown command.\r\n"
        if reply == "<close>":
            self.do_close(True)
        if reply == "<none>":
            self.log("mark", text="no reply to " + v)
            return
        if reply == "<pasv>":
            self.open_pasv(v, {})
            return
        self.send(reply)
        self.note_reply(line, reply)
        if v == "QUIT" and self.auto.get("QUIT") is not None:
            self.do_close(True)

    def wait_for(self, pattern, step):
        timeout = step.get("timeout", self.server.idle)
        while True:
            line = self.readline(timeout)
            if matches(pattern, line):
                self.last_cmd = line
                return line
            self.log("mismatch", expected=pattern, got=line)
            self.answer_auto(line, step.get("else"))

    def do_close(self, how):
        self.log("close", how="reset" if how == "reset" else "close")
        if how == "reset":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        self.close_data()
        self.sock.close()
        self.closed = True
        raise Closed()

    def close_data(self):
        if self.data is not None:
            self.data.close()
            self.data = None

    # -- steps
    def step_send(self, st):
        if st.get("after"):
            time.sleep(st["after"])
        data = to_bytes(st["send"]) * int(st.get("repeat", 1))
        self.send(data, st.get("chunk", st.get("chunks")), st.get("delay"))

    def step_expect(self, st):
        line = self.wait_for(st["expect"], st)
        if "reply" in st:
            self.send(st["reply"], st.get("chunk"), st.get("delay"))
            self.note_reply(line, st["reply"])

    def note_reply(self, line, reply):
        """A 2xx to PROT P/C switches TLS on data connections."""
        words = line.upper().split()
        if (len(words) == 2 and words[0] == "PROT"
                and to_bytes(reply).startswith(b"2")):
            self.tls_data = words[1] == "P"

    # -- TLS
    def tls_context(self):
        return self.server.tls_context()

    def step_starttls(self, st):
        if self.buf:
            self.log("cleartext_pipelined",
                     text=self.buf[:2000].decode("latin-1"))
            self.buf = b""
        try:
            ctx = self.tls_context()
            self.sock.settimeout(st.get("timeout", 10))
            self.sock = ctx.wrap_socket(self.sock, server_side=True,
                                        suppress_ragged_eofs=False)
            self.sock.settimeout(None)
        except (OSError, ssl.SSLError, ValueError) as e:
            self.log("tls_error", where="control", msg=str(e))
            self.closed = True
            raise Closed()
        self.tls = True
        self.log("tls", version=self.sock.version(),
                 cipher=self.sock.cipher()[0])

    def wrap_data(self, c, st):
        """Server side of a data connection's TLS handshake."""
        try:
            c.settimeout(st.get("timeout", 30))
            t = self.tls_context().wrap_socket(c, server_side=True,
                                               suppress_ragged_eofs=False)
        except (OSError, ssl.SSLError, ValueError) as e:
            self.log("tls_error", where="data", msg=str(e))
            return None
        t.settimeout(None)
        self.log("data_tls", version=t.version(), reused=t.session_reused)
        return t

    @staticmethod
    def tls_close(c, wait=2.0):
        """Sends close_notify, waits at most `wait` for the peer's one
        (not needed), then closes."""
        deadline = time.monotonic() + wait
        try:
            c.setblocking(False)
            while time.monotonic() < deadline:
                try:
                    c.unwrap()
                    break
                except ssl.SSLWantWriteError:
                    select.select([], [c], [], 0.1)
                except ssl.SSLWantReadError:
                    break                  # ours went out; not waiting
        except (OSError, ValueError):
            pass
        finally:
            c.close()

    def step_pasv(self, st):
        opts = dict(st)
        if isinstance(st["pasv"], dict):
            opts.update(st["pasv"])
        cmd = "PASV"
        if opts.get("expect", True):
            while True:
                line = self.wait_for("PASV|EPSV", opts)
                cmd = self.verb(line)
                if cmd == "EPSV" and opts.get("epsv", True) is False:
                    self.send(opts.get("epsv_refuse",
                                       "500 EPSV not understood.\r\n"))
                    continue
                break
        self.open_pasv(cmd, opts)

    def open_pasv(self, cmd, opts):
        """A new data listener, announced in the reply to cmd."""
        self.close_data()
        local = self.sock.getsockname()[0]
        self.data = DataListener(local, self.sock.family)
        port = int(opts.get("port", self.data.port))
        addr = opts.get("address")
        if addr is None:
            addr = local if self.sock.family == socket.AF_INET else "127.0.0.1"
        h = addr.split(".")
        fill = {"h1": h[0], "h2": h[1], "h3": h[2], "h4": h[3],
                "p1": port >> 8, "p2": port & 255, "port": port}
        if cmd == "EPSV":
            reply = opts.get("epsv_reply",
                             "229 Entering Extended Passive Mode (|||{port}|).\r\n")
        else:
            reply = opts.get("reply",
                             "227 Entering Passive Mode ({h1},{h2},{h3},{h4},{p1},{p2}).\r\n")
        self.log("data_listen", port=self.data.port, announced=addr,
                 announced_port=port, cmd=cmd)
        self.send(reply.format(**fill))

    def step_active(self, st):
        if isinstance(st["active"], dict):
            st = dict(st, **st["active"])
        line = self.wait_for("PORT|EPRT", st)
        arg = line.split(" ", 1)[1] if " " in line else ""
        try:
            if self.verb(line) == "PORT":
                n = [int(x) for x in arg.split(",")]
                host = "%d.%d.%d.%d" % tuple(n[:4])
                port = n[4] * 256 + n[5]
            else:
                d = arg[0]
                _, _, host, port, _ = arg.split(d)
                port = int(port)
        except (ValueError, IndexError, TypeError):
            self.send("501 Bad address.\r\n")
            return
        self.close_data()
        self.data = ActiveTarget(host, port, st.get("source"),
                                 st.get("connect", True))
        self.log("data_connect", host=host, port=port, cmd=self.verb(line),
                 source=st.get("source"), connect=st.get("connect", True))
        self.send(st.get("reply", "200 PORT command successful.\r\n"))

    def data_conn(self, st):
        if self.data is None:
            self.log("error", msg="data step without pasv/active step")
            return None
        try:
            c = self.data.wait(st.get("timeout", 30))
        except OSError as e:
            self.log("error", msg="data connect: %s" % e)
            self.close_data()
            return None
        if c is None:
            self.log("error", msg="no data connection")
            return None
        peer = self.data.peer
        if isinstance(self.data, DataListener) and not getattr(
                self.data, "logged", False):
            self.data.logged = True
            self.log("data_accept", peer=peer[0], port=peer[1])
        if self.tls_data and not isinstance(c, ssl.SSLSocket):
            t = self.wrap_data(c, st)
            if t is None:
                self.close_data()
                return None
            self.data.conn = c = t
        return c

    def step_data(self, st):
        c = self.data_conn(st)
        if c is None:
            return
        body = st["data"]
        if isinstance(body, bool):
            body = b""
        if isinstance(body, int):
            body = payload(body, st.get("seed", 0))
        else:
            body = to_bytes(body)
        full = len(body)
        if st.get("rest"):
            off = self.rest_offset
            self.rest_offset = 0
            body = body[off:]
            self.log("mark", text="data from REST offset %d" % off)
        if "limit" in st:
            body = body[:int(st["limit"])]
        if st.get("delay"):
            time.sleep(st["delay"])
        answer = st.get("answer", False)
        chunk = st.get("chunk") or (65536 if answer else None)
        try:
            if chunk:
                for i in range(0, len(body), chunk):
                    c.sendall(body[i:i + chunk])
                    if st.get("chunk_delay"):
                        time.sleep(st["chunk_delay"])
                    if answer:
                        self.answer_pending()
            else:
                c.sendall(body)
        except OSError as e:
            self.log("error", msg="data send: %s" % e)
        self.log("data_sent", bytes=len(body), full=full,
                 sha256=hashlib.sha256(body).hexdigest())
        end = st.get("end", "close")
        if end == "stall":
            self.stall(st.get("stall", 120))
        if end == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        elif isinstance(c, ssl.SSLSocket) and self.data is not None:
            if end == "truncate":
                # SSLSocket.shutdown drops the TLS layer and shuts the TCP
                # connection: a FIN with no close_notify before it
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
                self.log("mark", text="data truncated (no close_notify)")
            else:
                self.tls_close(c)
            self.data.conn = None
        self.close_data()

    def answer_pending(self):
        """Answers, from the automatic replies, the commands that have
        arrived on the control connection, without waiting for more."""
        while True:
            ready = b"\n" in self.buf
            if not ready:
                if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                    ready = True
                else:
                    ready = bool(select.select([self.sock], [], [], 0)[0])
            if not ready:
                return
            line = self.readline(0.05, True)
            if line is None:
                return
            self.log("mark", text="answered during data: " + self.verb(line))
            self.answer_auto(line)

    def stall(self, secs):
        """Holds the data connection open, still logging commands (ABOR)."""
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            line = self.readline(min(1.0, deadline - time.monotonic()), True)
            if line is None:
                continue
            if self.verb(line) == "ABOR":
                self.log("mark", text="ABOR during stall")
                self.close_data()
                reply = self.auto.get(
                    "ABOR", "426 Transfer aborted.\r\n226 ABOR ok.\r\n")
                if reply == "<none>":
                    self.log("mark", text="no reply to ABOR")
                else:
                    self.send(reply)
                return
            self.answer_auto(line)

    def step_quiet(self, st):
        """Answers commands automatically until none came for S seconds."""
        while True:
            line = self.readline(st["quiet"], True)
            if line is None:
                return
            self.answer_auto(line)

    def step_handshake_data(self, st):
        """The data connection's TLS handshake before any reply."""
        opts = st["handshake_data"]
        opts = opts if isinstance(opts, dict) else {}
        timeout = opts.get("timeout", 5)
        fail = opts.get("fail", "425 Unable to build data connection: "
                                "TLS handshake not done.\r\n")
        c = self.data.wait(timeout) if self.data is not None else None
        t = None
        if c is not None and not isinstance(c, ssl.SSLSocket):
            t = self.wrap_data(c, {"timeout": timeout})
        if t is None:
            if c is None:
                self.log("tls_error", where="data", msg="no data connection")
            self.close_data()
            self.send(fail)
            raise ScriptEnd()
        self.data.conn = t

    def step_halfclose_data(self, st):
        """Shuts the data connection for writing and stops reading."""
        c = self.data_conn(st)
        if c is None:
            return
        try:
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.log("error", msg="data shutdown: %s" % e)
        self.log("mark", text="data half-closed")
        self.stall(st["halfclose_data"])
        self.close_data()

    def step_recv_data(self, st):
        c = self.data_conn(st)
        if c is None:
            return
        if st.get("delay"):
            time.sleep(st["delay"])
        h = hashlib.sha256()
        n = 0
        limit = st.get("limit")
        c.settimeout(st.get("timeout", 60))
        tls = isinstance(c, ssl.SSLSocket)
        notify = False
        try:
            while True:
                want = 65536 if limit is None else min(65536, limit - n)
                if want <= 0:
                    break
                b = c.recv(want)
                if not b:
                    notify = tls       # a bare EOF raises SSLEOFError
                    break
                h.update(b)
                n += len(b)
        except ssl.SSLError as e:
            # 3.11: SSLError UNEXPECTED_EOF_WHILE_READING (or SSLEOFError)
            if isinstance(e, ssl.SSLEOFError) or "EOF" in str(e).upper():
                self.log("mark", text="upload ended without close_notify")
            else:
                self.log("error", msg="data recv: %s" % e)
        except OSError as e:
            self.log("error", msg="data recv: %s" % e)
        if tls:
            self.log("data_recv", bytes=n, sha256=h.hexdigest(),
                     close_notify=notify)
            self.tls_close(c, 0.5)
            if self.data is not None:
                self.data.conn = None
        else:
            self.log("data_recv", bytes=n, sha256=h.hexdigest())
        self.close_data()

    def run(self):
        try:
            try:
                for st in self.steps:
                    self.run_step(st)
            except ScriptEnd:
                pass
            while True:
                line = self.readline(self.server.idle)
                self.answer_auto(line)
        except Closed:
            pass
        except OSError as e:
            self.log("error", msg=str(e))
        finally:
            self.close_data()
            try:
                self.sock.close()
            except OSError:
                pass

    def run_step(self, st):
        if not isinstance(st, dict):
            raise ValueError("step is not an object: %r" % (st,))
        if "send" in st:
            self.step_send(st)
        elif "expect" in st:
            self.step_expect(st)
        elif "pasv" in st:
            self.step_pasv(st)
        elif "active" in st:
            self.step_active(st)
        elif "data" in st:
            self.step_data(st)
        elif "recv_data" in st:
            self.step_recv_data(st)
        elif "handshake_data" in st:
            self.step_handshake_data(st)
        elif "fs" in st:
            ftpmock_fs.serve(self, st["fs"], payload)
        elif "tree" in st:
            ftpmock_tree.serve(self, st["tree"])
        elif "halfclose_data" in st:
            self.step_halfclose_data(st)
        elif "close_data" in st:
            self.close_data()
        elif "starttls" in st:
            self.step_starttls(st)
        elif "tls_data" in st:
            self.tls_data = bool(st["tls_data"])
        elif "close" in st:
            self.do_close(st["close"])
        elif "sleep" in st:
            time.sleep(st["sleep"])
        elif "quiet" in st:
            self.step_quiet(st)
        elif "auto" in st:
            for k, v in st["auto"].items():
                if v is None:
                    self.auto.pop(k.upper(), None)
                else:
                    self.auto[k.upper()] = v
        elif "mark" in st:
            self.log("mark", text=st["mark"])
        else:
            raise ValueError("unknown step: %r" % (st,))


def matches(pattern, line):
    if line.upper().startswith(pattern.upper()):
        return True
    try:
        return re.match(pattern, line, re.I | re.S) is not None
    except re.error:
        return False


class Server:
    def __init__(self, script, host, port, log, idle, cert=None, key=None):
        if isinstance(script, list):
            script = {"steps": script}
        self.script = script
        self.log = log
        self.idle = idle
        self.cert = script.get("cert") or cert
        self.key = script.get("key") or key
        self._ctx = None
        self._ctx_lock = threading.Lock()
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def tls_context(self):
        """One server context for all connections, so that data
        connections can resume the control connection's session."""
        with self._ctx_lock:
            if self._ctx is None:
                if not self.cert:
                    raise ValueError("TLS step without --cert")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(self.cert, self.key)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                # Python sets this by default: a bare EOF would then look
                # like close_notify, and truncated uploads go unnoticed
                ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
                v = self.script.get("tls_version")
                if v:
                    v = {"1.2": ssl.TLSVersion.TLSv1_2,
                         "1.3": ssl.TLSVersion.TLSv1_3}[v]
                    ctx.minimum_version = ctx.maximum_version = v
                self._ctx = ctx
            return self._ctx

    def steps_for(self, idx):
        conns = self.script.get("connections") or []
        if idx < len(conns):
            return conns[idx]
        return self.script.get("steps", [])

    def serve(self):
        self.log(None, "listen", port=self.port)
        idx = 0
        while True:
            c, peer = self.sock.accept()
            self.log(idx, "accept", peer=peer[0], port=peer[1])
            s = Session(self, c, idx, self.steps_for(idx),
                        {k.upper(): v for k, v in
                         (self.script.get("auto") or {}).items()})
            threading.Thread(target=s.run, daemon=True).start()
            idx += 1


def load_script(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--script", help="JSON or Python-literal script file")
    g.add_argument("--scenario", help="a built-in scenario")
    g.add_argument("--list-scenarios", action="store_true")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="JSON-lines log of what happened")
    ap.add_argument("--idle", type=float, default=120,
                    help="seconds to wait for a command before closing")
    ap.add_argument("--cert", help="PEM certificate for TLS steps")
    ap.add_argument("--key", help="PEM private key (default: in --cert)")
    a = ap.parse_args()
    if a.list_scenarios:
        print("\n".join(sorted(SCENARIOS)))
        return 0
    if a.scenario:
        if a.scenario not in SCENARIOS:
            ap.error("unknown scenario %r (see --list-scenarios)" % a.scenario)
        script = SCENARIOS[a.scenario]()
    else:
        script = load_script(a.script)
    srv = Server(script, a.host, a.port, Log(a.log), a.idle, a.cert, a.key)
    print(srv.port, flush=True)
    try:
        srv.serve()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
