"""ftpmock's built-in scenarios (see ftpmock.py for the step language).

ftpmock.py --scenario NAME plays SCENARIOS[NAME](); the helpers here
(login, download, retr, ...) build the steps tests write their own
scripts from. Plain data only: nothing here runs a server."""


def login(greeting="220 ftpmock ready\r\n"):
    return [
        {"send": greeting},
        {"expect": "USER", "reply": "331 Password required.\r\n"},
        {"expect": "PASS", "reply": "230 Logged in.\r\n"},
    ]


def download(data_step, size=None, pre_150=None, reply_150=None,
             reply_226="226 Transfer complete.\r\n", pasv=None):
    """login, then PASV/EPSV, RETR, 150, the data step, 226."""
    auto = {}
    if size is not None:
        auto["SIZE"] = "213 %d\r\n" % size
        auto["MDTM"] = "213 20240102030405\r\n"
        auto["REST"] = "350 Restarting.\r\n"
    steps = login() + [{"auto": auto}, dict({"pasv": True}, **(pasv or {}))]
    if reply_150 is None:
        reply_150 = "150 Opening BINARY mode data connection.\r\n"
    steps.append({"expect": "RETR", "reply": reply_150})
    if pre_150:
        steps.append(pre_150)
    steps.append(data_step)
    if reply_226:
        steps.append({"send": reply_226})
    return steps


def upload(reply_final="226 Transfer complete.\r\n", limit=None):
    rd = {"recv_data": True}
    if limit is not None:
        rd["limit"] = limit
    return login() + [
        {"pasv": True},
        {"expect": "STOR|APPE", "reply": "150 Ok to send data.\r\n"},
        rd,
        {"send": reply_final},
    ]


TLS_AUTO = {
    "FEAT": "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n SIZE\r\n"
            " MDTM\r\n UTF8\r\n EPSV\r\n211 End\r\n",
    "PBSZ": "200 PBSZ=0\r\n",
    "PROT": "200 Data protection level set.\r\n",
}


def tls_login(implicit=False, auto=None):
    """Explicit (AUTH TLS, 234, handshake) or implicit (handshake, then the
    greeting) TLS, then USER/PASS; PBSZ and PROT are answered
    automatically (in any order), a 200 to PROT P turns on TLS on data
    connections."""
    a = dict(TLS_AUTO)
    a.update(auto or {})
    if implicit:
        a["AUTH"] = "503 Already using TLS.\r\n"
        steps = [{"starttls": True}, {"auto": a},
                 {"send": "220 ftpmock (implicit TLS) ready\r\n"}]
    else:
        steps = [{"send": "220 ftpmock ready\r\n"}, {"auto": a},
                 {"expect": "AUTH TLS", "reply": "234 AUTH TLS OK.\r\n"},
                 {"starttls": True}]
    return steps + [
        {"expect": "USER", "reply": "331 Password required.\r\n"},
        {"expect": "PASS", "reply": "230 Logged in.\r\n"},
    ]


def download_steps(data_step, size=None, reply_150=None,
                   reply_226="226 Transfer complete.\r\n"):
    """download() without its login."""
    return download(data_step, size=size, reply_150=reply_150,
                    reply_226=reply_226)[len(login()):]


# [30] what ascii_download sends, and what the client must make of it
ASCII_WIRE = "l1\r\nl2\r\n\r\nlone\rcr\r\nlast\r"
ASCII_LOCAL = "l1\nl2\n\nlone\rcr\nlast\r"

# automatic replies for scripts that do not care how a client gets its
# data connections (any number of EPSV/PASV)
PASV_AUTO = {"EPSV": "<pasv>", "PASV": "<pasv>"}


def retr(data_step, reply_150="150 Opening BINARY mode data connection.\r\n",
         reply_226="226 Transfer complete.\r\n"):
    """RETR, 150, the data step, 226 (data connection opened by
    PASV_AUTO or an active step before)."""
    steps = [{"expect": "RETR", "reply": reply_150}, data_step]
    if reply_226:
        steps.append({"send": reply_226})
    return steps


def rest_auto(size, rest="350 Restarting.\r\n"):
    return dict(PASV_AUTO, SIZE="213 %d\r\n" % size,
                MDTM="213 20240102030405\r\n", REST=rest)


def tls_handshake_reset_first():
    """Explicit FTPS login, then a download whose data connection breaks
    under its TLS handshake: after RETR and the 150 (the client starts TLS
    on the data connection once it has the 150), the data connection is
    taken without a TLS handshake, left 0.5 s for the client's ClientHello
    to come in, and reset unanswered (SO_LINGER 0 + close: a data step of
    no bytes with "end": "reset"; it logs "data_sent" with "bytes": 0).
    0.5 s later the control connection says 425, as ProFTPD does when the
    TLS handshake of a data connection fails ("425 Unable to build data
    connection: ..."; vsftpd says 522 and ends the session)."""
    return tls_login() + [
        {"auto": rest_auto(BIG)},
        {"expect": "RETR",
         "reply": "150 Opening BINARY mode data connection.\r\n"},
        {"tls_data": False},
        {"mark": "data connection reset under its TLS handshake"},
        {"data": b"", "delay": 0.5, "end": "reset"},
        {"tls_data": True},
        {"send": "425 Unable to build data connection: Connection reset "
                 "by peer\r\n", "after": 0.5},
    ]


def stall_then_download(abor=None):
    """[16] [26] A download that sends 4 KiB and stalls (until ABOR or the
    end of the control connection); then a good 1000-byte download (seed
    2), on this connection if it was recovered, else on the next one.
    abor: the automatic reply to ABOR (None: 426 + 226)."""
    auto = dict(PASV_AUTO)
    if abor is not None:
        auto["ABOR"] = abor
    good = retr({"data": 1000, "seed": 2})
    first = login() + [{"auto": auto}] + retr(
        {"data": BIG, "seed": 16, "limit": 4096, "end": "stall",
         "stall": 60}, reply_226=None) + good
    again = login() + [{"auto": auto}] + good
    return {"connections": [first], "steps": again}


def reconnect_after(first):
    """[8] First connection: login and `first`; every later one: login,
    then SIZE 1000, MDTM 2024-01-02 03:04:05 and a 1000-byte download
    (seed 8)."""
    again = login() + [{"auto": dict(PASV_AUTO, SIZE="213 1000\r\n",
                                     MDTM="213 20240102030405\r\n")}]
    return {"connections": [login() + [{"auto": PASV_AUTO}] + first],
            "steps": again + retr({"data": 1000, "seed": 8})}


# [19] what hostile_list / hostile_mlsd serve for /victim and /victim/sub.
# Names: (name, type) with type "file", "dir" or "link" (to /etc).
HOSTILE_TOP = [(".", "dir"), ("..", "dir"), ("../x", "file"),
               ("/etc/passwd", "file"), ("a/b", "file"), ("-rf", "file"),
               ("../../etc", "dir"),
               ("evil\nDELE /etc/passwd", "file"),
               ("cr\rRMD /etc", "file"), ("nul\x00x", "file"),
               ("good.txt", "file"), ("link", "link"), ("sub", "dir")]
HOSTILE_SUB = [("..", "dir"), ("../../../etc/shadow", "file"),
               ("x", "file"), ("/", "dir")]


def hostile_listing(entries, mlsd):
    out = []
    for name, kind in entries:
        if mlsd:
            facts = {"file": "type=file;size=5;",
                     "dir": "type=dir;",
                     "link": "type=OS.unix=slink:/etc;"}[kind]
            if name == ".":
                facts = "type=cdir;"
            elif name == "..":
                facts = "type=pdir;"
            out.append("%smodify=20240102030405; %s\r\n" % (facts, name))
        else:
            mode = {"file": "-rw-r--r--", "dir": "drwxr-xr-x",
                    "link": "lrwxrwxrwx"}[kind]
            tail = " -> /etc" if kind == "link" else ""
            out.append("%s   1 owner group        5 Jan 02  2024 %s%s\r\n"
                       % (mode, name, tail))
    return "".join(out)


def hostile_remove(mlsd):
    """[19] /victim: DELE refused (a directory), then its listing, then
    /victim/sub's; other DELE and RMD succeed, except RMD /victim (not
    empty: the hostile entries are still there)."""
    auto = dict(PASV_AUTO)
    auto.update({
        "DELE": "250 Deleted.\r\n", "RMD": "250 Directory removed.\r\n",
        "DELE /victim": "550 /victim: Is a directory.\r\n",
        "RMD /victim": "550 /victim: Directory not empty.\r\n"})
    if mlsd:
        auto["FEAT"] = ("211-Features:\r\n MLST type*;size*;modify*;\r\n"
                        " MLSD\r\n SIZE\r\n MDTM\r\n UTF8\r\n EPSV\r\n"
                        "211 End\r\n")
    steps = login() + [{"auto": auto}]
    for entries in (HOSTILE_TOP, HOSTILE_SUB):
        steps += [{"expect": "LIST|MLSD", "reply": "150 Listing.\r\n"},
                  {"data": hostile_listing(entries, mlsd)},
                  {"send": "226 Done.\r\n"}]
    return steps


def bad_epsv(reply):
    """[12] login, then `reply` to EPSV (and, should a client try PASV
    after it, a 227 naming port 0)."""
    return login() + [{"pasv": True, "epsv_reply": reply,
                       "reply": "227 Entering Passive Mode "
                                "(127,0,0,1,0,0).\r\n"}]


def tls_handshake_first(implicit=False):
    """Explicit (or implicit) FTPS where every transfer command waits for
    the data connection's TLS handshake before its 150 (and gets 425 when
    none came within 4 s): RETR of 1 MiB (seed 13), LIST, STOR, then RETR
    again."""
    hs = {"handshake_data": {"timeout": 4}}
    ok = "226 Transfer complete.\r\n"
    get = [{"expect": "RETR"}, hs,
           {"send": "150 Opening BINARY mode data connection.\r\n"},
           {"data": BIG, "seed": 13}, {"send": ok}]
    return tls_login(implicit, dict(PASV_AUTO,
                                    SIZE="213 %d\r\n" % BIG)) + get + [
        {"expect": "LIST|NLST|MLSD"}, hs,
        {"send": "150 Here comes the directory listing.\r\n"},
        {"data": FS_LINE_FILE + "\r\n"}, {"send": ok},
        {"expect": "STOR"}, hs, {"send": "150 Ok to send data.\r\n"},
        {"recv_data": True}, {"send": ok}] + get


FS_LINE_FILE = "-rw-r--r--   1 ftp      ftp       1048576 Jan 02  2024 file"

# a tree for {"fs": ...} where LIST arguments split at spaces mislead:
# "dir" exists beside "dir with space", "-la" is a directory's name
BSD_TREE = {
    "dir": {"decoy.txt": 3},
    "dir with space": {"inner.txt": 7, "sub dir": {"deep.bin": 2}},
    "-la": {"dash.txt": 4},
    "plain.txt": 12,
    "empty dir": {},
}

BIG = 1 << 20
SCENARIOS = {
    # plain login, then automatic replies
    "ok": lambda: login(),
    # [1] middle lines that start with digits, another code, nothing, spaces
    "multiline_greeting": lambda: login(
        "220-Welcome to ftpmock\r\n"
        "2024 was a good year\r\n"
        "123-another code with a dash\r\n"
        "\r\n"
        " 220 indented, not the end\r\n"
        "220-still the greeting\r\n"
        "220 ftpmock ready\r\n"),
    # [2] closing line with another code ends the reply: FEAT at login, and
    # SITE (for ftp.quote)
    "glftpd": lambda: login() + [
        {"auto": {"FEAT": "211-Features:\r\n SIZE\r\n MDTM\r\n"
                          "214 End of glFTPd features.\r\n"}},
        {"expect": "SITE", "reply":
            "200-glFTPd site command\r\n200-second line\r\n"
            "211 End of status.\r\n"},
    ],
    # [3] a 17 KB reply line, 64 KB without a line end, 10,000 lines
    "long_line": lambda: [{"send": ["220 ", "x" * 17000, "\r\n"]},
                          {"sleep": 5}, {"close": True}],
    "long_noeol": lambda: [{"send": "220 ", "chunk": 8192, "delay": 0},
                           {"send": "x", "repeat": 65536, "chunk": 8192,
                            "delay": 0},
                           {"sleep": 10}, {"close": True}],
    "many_lines": lambda: [{"send": ["220-start\r\n", " line\r\n" * 10000,
                                     "220 end\r\n"]},
                           {"expect": "USER", "reply": "331 Password.\r\n"},
                           {"expect": "PASS", "reply": "230 Ok.\r\n"}],
    # [4] NUL inside a reply; LF-only line ends
    "nul_in_reply": lambda: [{"send": "220 hello\x00world\r\n"},
                             {"sleep": 5}, {"close": True}],
    "lf_only": lambda: login("220-LF only\n220 ready\n"),
    # [5] a reply one byte at a time
    "byte_at_a_time": lambda: [
        {"send": "220-slow\r\n 220 greeting\r\n220 ready\r\n", "chunk": 1,
         "delay": 0.005},
        {"expect": "USER", "reply": "331 Password required.\r\n",
         "chunk": 1},
        {"expect": "PASS", "reply": "230 Logged in.\r\n"},
    ],
    # [7] non-numeric code, code outside 100..599
    "bad_code": lambda: [{"send": "2x0 hello\r\n"}, {"sleep": 5},
                         {"close": True}],
    "code_600": lambda: [{"send": "600 hello\r\n"}, {"sleep": 5},
                         {"close": True}],
    # [8] 421 at greeting
    "greeting_421": lambda: [{"send": "421 Too many users.\r\n"},
                             {"close": True}],
    # [10] bad SIZE replies
    "size_garbage": lambda: login() + [{"auto": {"SIZE": "213 12ab\r\n"}}],
    "size_huge": lambda: login() + [
        {"auto": {"SIZE": "213 99999999999999999999\r\n"}}],
    # a size that parses (2^63 - 1) but that no file of ours can be, nor
    # have a record of ranges after it
    "size_max": lambda: login() + [
        {"auto": {"SIZE": "213 9223372036854775807\r\n",
                  "MDTM": "213 20240102030405\r\n"}}],
    # [11] 227 naming 10.0.0.1; EPSV refused so PASV is used
    "pasv_foreign": lambda: download({"data": 100000, "seed": 11},
                                     size=100000,
                                     pasv={"address": "10.0.0.1",
                                           "epsv": False}),
    # [12] malformed 227s
    "pasv_octet": lambda: login() + [{"pasv": True, "epsv": False,
        "reply": "227 Entering Passive Mode (127,0,0,1,300,{p2}).\r\n"}],
    "pasv_port0": lambda: login() + [{"pasv": True, "epsv": False,
        "reply": "227 Entering Passive Mode (127,0,0,1,0,0).\r\n"}],
    "pasv_short": lambda: login() + [{"pasv": True, "epsv": False,
        "reply": "227 Entering Passive Mode (127,0,0,1,{p1}).\r\n"}],
    "epsv_bad_port": lambda: login() + [{"pasv": True,
        "epsv_reply": "229 Entering Extended Passive Mode (|||70000|).\r\n",
        "reply": "227 Entering Passive Mode (127,0,0,1,0,0).\r\n"}],
    # [14] 150 and 226 together, before any data
    "150_226_together": lambda: download(
        {"data": BIG, "seed": 14, "delay": 0.3}, size=BIG,
        reply_150="150 Opening data connection.\r\n"
                  "226 Transfer complete.\r\n",
        reply_226=None),
    # [15] data shorter than announced in 150 and SIZE, server says 226
    "short_data": lambda: download(
        {"data": BIG, "seed": 15, "limit": BIG // 2}, size=BIG,
        reply_150="150 Opening BINARY mode data connection for f "
                  "(%d bytes).\r\n" % BIG),
    # a 1xx to a command that has none (REST), then its real reply: the
    # connection is out of step and must be dropped, never reused
    "rest_1xx": lambda: login() + [
        {"auto": {"SIZE": "213 100\r\n"}},
        {"pasv": True},
        {"expect": "REST", "reply": "150 Bogus.\r\n350 Restarting.\r\n"},
        {"sleep": 10}],
    # data sent and closed first, then a 150, then silence: the final
    # reply must still be waited for with a deadline
    "prelim_after_eof": lambda: login() + [
        {"auto": {"SIZE": "213 1000\r\n"}},
        {"pasv": True},
        {"expect": "RETR"},
        {"data": 1000, "seed": 3},
        {"sleep": 0.3},
        {"send": "150 Opening data connection.\r\n"},
        {"sleep": 30}],
    # the server takes a little of an upload, then half-closes the data
    # connection and stops reading
    "upload_halfclose": lambda: login() + [
        {"pasv": True},
        {"expect": "STOR", "reply": "150 Ok to send data.\r\n"},
        {"halfclose_data": 30}],
    # [16] data connection stalls without closing
    # (the ABOR that ends the stall gets 426 + 226: no third reply)
    "stall": lambda: download({"data": BIG, "seed": 16, "limit": 4096,
                               "end": "stall", "stall": 120}, size=BIG,
                              reply_226=None),
    # [17] final 426 / 552
    "retr_426": lambda: download({"data": 1000, "seed": 17},
                                 reply_226="426 Connection closed; "
                                           "transfer aborted.\r\n"),
    "stor_552": lambda: upload("552 Requested file action aborted. "
                               "Exceeded storage allocation.\r\n"),
    # a normal upload; the log gets its sha256
    "upload_ok": lambda: upload(),
    # a normal download of 100000 bytes, seed 1
    # ---- FTPS (--cert/--key needed) ----
    "tls_ok": lambda: tls_login(),
    "tls_implicit_ok": lambda: tls_login(implicit=True),
    # a 1 MiB download and an upload over TLS data connections
    "tls_download_ok": lambda: tls_login() + download_steps(
        {"data": BIG, "seed": 24}, size=BIG),
    "tls_upload_ok": lambda: tls_login() + [
        {"pasv": True},
        {"expect": "STOR|APPE", "reply": "150 Ok to send data.\r\n"},
        {"recv_data": True},
        {"send": "226 Transfer complete.\r\n"},
    ],
    # [24] a server that reads the upload late: under TLS 1.3 it sent
    # session tickets after the handshake, which the client must have read
    # (or drained) before closing, else its close is a RST that destroys
    # the upload's unread tail
    "tls_upload_slow_reader": lambda: tls_login() + [
        {"pasv": True},
        {"expect": "STOR|APPE", "reply": "150 Ok to send data.\r\n"},
        {"recv_data": True, "delay": 0.5},
        {"send": "226 Transfer complete.\r\n"},
    ],
    # [6] STARTTLS injection: a reply queued behind the 234, in one write
    "tls_injection": lambda: [
        {"send": "220 ftpmock ready\r\n"},
        {"auto": TLS_AUTO},
        {"expect": "AUTH", "reply": "234 OK\r\n220 injected\r\n"},
        {"starttls": True, "timeout": 5},
        {"expect": "USER", "reply": "331 Password required.\r\n"},
        {"expect": "PASS", "reply": "230 Logged in.\r\n"},
    ],
    # [22] AUTH TLS refused: a client that goes on sends USER in clear
    "tls_auth_refused": lambda: [
        {"send": "220 ftpmock ready\r\n"},
        {"auto": dict(TLS_AUTO, AUTH="500 AUTH not understood.\r\n")},
        {"expect": "AUTH", "reply": "500 AUTH not understood.\r\n"},
        {"expect": "USER", "reply": "331 Password required.\r\n"},
        {"expect": "PASS", "reply": "230 Logged in.\r\n"},
    ],
    # [22] logged in by the greeting: no chance to start TLS before login
    "tls_greeting_230": lambda: [
        {"auto": dict(TLS_AUTO, AUTH="503 Already logged in.\r\n")},
        {"send": "230 Welcome, you are logged in.\r\n"},
        {"expect": "USER", "reply": "331 Password required.\r\n"},
        {"expect": "PASS", "reply": "230 Logged in.\r\n"},
    ],
    # [22] PROT P refused: data would go in clear
    "tls_prot_refused": lambda: tls_login(
        auto={"PROT": "536 PROT P not supported here.\r\n"}) + [
        {"pasv": True},
        {"expect": "LIST|NLST|MLSD|RETR|STOR",
         "reply": "150 Here it comes, in the clear.\r\n"},
        {"data": "cleartext listing\r\n"},
        {"send": "226 Done.\r\n"},
    ],
    # [24] a download over TLS whose data connection ends without
    # close_notify (all bytes sent, SIZE and 150 agree, then 226)
    "tls_truncated_download": lambda: tls_login() + download_steps(
        {"data": BIG, "seed": 24, "end": "truncate"}, size=BIG,
        reply_150="150 Opening BINARY mode data connection for file "
                  "(%d bytes).\r\n" % BIG),
    # a TLS handshake broken by the network, on a data connection: the
    # first connection's first data connection is reset once the client's
    # ClientHello is in (see tls_handshake_reset_first); every later
    # connection sends the 1 MiB file (seed 25), from REST if one came
    "tls_data_handshake_reset": lambda: {
        "connections": [tls_handshake_reset_first()],
        "steps": tls_login() + [{"auto": rest_auto(BIG)}] + retr(
            {"data": BIG, "seed": 25, "rest": True})},
    # the same on the control connection, on every connection: AUTH TLS
    # accepted (234), then, once the ClientHello is in, a reset
    # a server that sends the 150 only after the data connection's TLS
    # handshake (see tls_handshake_first)
    "tls_data_handshake_first": tls_handshake_first,
    "tls_implicit_data_handshake_first": lambda: tls_handshake_first(True),
    # a server that runs /bin/ls for LIST: arguments split at white space,
    # "-x" words are options (see ftpmock_fs.py), no MLSD
    "bsd_ls": lambda: login() + [{"auto": PASV_AUTO},
                                 {"fs": {"tree": BSD_TREE,
                                         "list_split": True}}],
    # the same tree from a server that takes LIST's argument whole
    "whole_ls": lambda: login() + [{"auto": PASV_AUTO},
                                   {"fs": {"tree": BSD_TREE}}],
    "tls_control_handshake_reset": lambda: [
        {"send": "220 ftpmock ready\r\n"},
        {"auto": TLS_AUTO},
        {"expect": "AUTH TLS", "reply": "234 AUTH TLS OK.\r\n"},
        {"sleep": 0.5},
        {"mark": "control connection reset under its TLS handshake"},
        {"close": "reset"}],
    "download_ok": lambda: download({"data": 100000, "seed": 1},
                                    size=100000),
    # ---- issue 4 ----
    # [8] 421 after a command (SIZE), during a transfer, on an idle
    # connection; later connections work (see reconnect_after)
    "421_after_command": lambda: reconnect_after([
        {"expect": "SIZE", "reply": "421 Service not available, closing "
                                    "control connection.\r\n"},
        {"close": True}]),
    "421_transfer": lambda: reconnect_after([
        {"expect": "RETR", "reply": "150 Opening data connection.\r\n"},
        {"data": 1000, "seed": 8, "limit": 500},
        {"send": "421 Shutting down.\r\n"}, {"close": True}]),
    "421_idle": lambda: reconnect_after([
        {"quiet": 1.0},
        {"send": "421 Idle timeout, closing control connection.\r\n"},
        {"close": True}]),
    # [13] active mode: a good one, a data connection from another
    # address (127.0.0.2) carrying a forged download, a server that never
    # connects, a 425
    "active_ok": lambda: login() + [{"active": True}] + retr(
        {"data": 100000, "seed": 13}),
    "active_foreign": lambda: login() + [
        {"active": {"source": "127.0.0.2"}}] + retr(
        {"data": 100000, "seed": 13}),
    "active_never": lambda: login() + [
        {"active": {"connect": False}},
        {"expect": "RETR", "reply": "150 Opening data connection.\r\n"},
        {"quiet": 30}],
    "active_425": lambda: login() + [
        {"active": {"connect": False}},
        {"expect": "RETR", "reply": "425 Can't open data connection.\r\n"}],
    # [16] [26] stalled download; ABOR answered with 426 + 226, only 226,
    # or not at all
    "stall_abor": lambda: stall_then_download(),
    "abor_426_226": lambda: stall_then_download(
        "426 Connection closed; transfer aborted.\r\n226 ABOR ok.\r\n"),
    "abor_226": lambda: stall_then_download("226 ABOR successful.\r\n"),
    "abor_silent": lambda: stall_then_download("<none>"),
    # [17] final 451 on a download (426: retr_426, 552: stor_552)
    "retr_451": lambda: download({"data": 1000, "seed": 17},
                                 reply_226="451 Requested action aborted: "
                                           "local error in processing.\r\n"),
    # [27] a 1000-byte file (seed 27) with SIZE and REST; and one of
    # 100000 bytes whose server refuses REST
    "rest_1000": lambda: login() + [{"auto": rest_auto(1000)}] + retr(
        {"data": 1000, "seed": 27}),
    "rest_refused": lambda: login() + [
        {"auto": rest_auto(100000, "502 REST not implemented.\r\n")}] + retr(
        {"data": 100000, "seed": 27}),
    # [30] ASCII download sent one byte at a time: CRLF split across
    # reads, a lone CR inside and one at the very end
    "ascii_download": lambda: login() + [{"auto": PASV_AUTO}] + retr(
        {"data": ASCII_WIRE, "chunk": 1, "chunk_delay": 0.002},
        reply_150="150 Opening ASCII mode data connection.\r\n"),
    # ---- adversarial cases (test_adversarial.py) ----
    # [12] EPSV refused: PASV, and no EPSV again on this connection (a
    # second one would get 500 again, and be logged); then a third
    # download
    "epsv_refused": lambda: login() + [
        {"auto": {"SIZE": "213 1000\r\n"}}] + [
        step for seed in (121, 122, 123) for step in (
            [{"pasv": True, "epsv": False}] + retr({"data": 1000,
                                                     "seed": seed}))],
    # [12] both passive commands refused; PORT and EPRT would be accepted
    # (a client must not fall back to active mode on its own)
    "passive_refused": lambda: login() + [{"auto": {
        "EPSV": "500 EPSV not understood.\r\n",
        "PASV": "500 PASV not understood.\r\n",
        "PORT": "200 PORT command successful.\r\n",
        "EPRT": "200 EPRT command successful.\r\n",
        "SIZE": "213 1000\r\n"}}],
    # [12] malformed 229 replies: no port, garbage, port 0, mixed
    # delimiters (epsv_bad_port above: a port > 65535)
    "epsv_noport": lambda: bad_epsv(
        "229 Entering Extended Passive Mode.\r\n"),
    "epsv_garbage": lambda: bad_epsv(
        "229 Entering Extended Passive Mode (|||12ab|).\r\n"),
    "epsv_port0": lambda: bad_epsv(
        "229 Entering Extended Passive Mode (|||0|).\r\n"),
    "epsv_delims": lambda: bad_epsv(
        "229 Entering Extended Passive Mode (|!|{port}|).\r\n"),
    # [19] a directory whose listing holds hostile names (see HOSTILE_*)
    "hostile_list": lambda: hostile_remove(False),
    "hostile_mlsd": lambda: hostile_remove(True),
}
