"""ftpmock's {"tree": {...}} step and the tree scenarios (issue 16).

A LIST-only server (FEAT without MLST, MLSD unknown) serving a tree whose
names are bytes, hostile ones included, as servers really send them:

    {"tree": {"root": [(b"good.txt", 100),
                       (b"sub", [(b"inner.txt", 21)]),
                       (b"loop", {"alias": b"/"}),
                       (b"denied.bin", {"file": 10, "retr": "550"}),
                       (b"flaky.bin", {"file": 300000, "drop": 1,
                                       "after": 100000})]}}

A directory is a list of (name, node) pairs, in listing order (names may
repeat, be empty, hold "/", CR, LF, NUL...). A node is:

  int                     a file of that many bytes: file_bytes(name, size)
  list                    a directory
  {"alias": PATH}         a directory whose listing is that of the
                          directory at PATH (an absolute path of the tree):
                          loops ("/loop/loop/loop..." never ends)
  {"file": N, "retr": "550"}   RETR answered 550 (SIZE and MDTM work)
  {"file": N, "drop": K, "after": B}   the first K RETRs of it (counted
                          over all connections) send B bytes (from the
                          REST offset on), reset the data connection and
                          answer 426; later ones send the whole file
                          (from the REST offset)
  {"file": N, "drop": K, "after": B, "reply_first": True}   the same,
                          but the 426 comes first and the B bytes 0.3 s
                          later (the reply and the data race on two
                          connections; a client must keep what came)
  {"dir": [...], "list_fail": K}  a directory whose first K listings
                          (counted over all connections) are answered 425
                          (a transient failure: a client tries again)
  {"link": TARGET}        a symbolic link ("lrwxrwxrwx ... name -> TARGET")
  {"raw": LINE}           a listing line sent as it is (garbage)

Commands: CWD, CDUP, PWD, LIST and NLST (an argument that starts with
"-" is taken for options; another is a path), SIZE, MDTM, REST, RETR;
everything else from the automatic replies (EPSV/PASV open data
listeners: "<pasv>"). A path is resolved component by component from the
working directory ("." and ".." as usual, never above "/"); a path that
does not resolve is also looked up whole as one name in the working
directory, so `RETR a/b` reaches an entry named "a/b". Each RETR logs a
"mark" "retr PATH" and each LIST/NLST "list PATH" (the directory's path
as the server resolved it).

The file bytes are file_bytes(name, size): payload(size, crc32(name)).
Every file's modification time is MTIME (LIST shows "Jan 02  2024").
"""

import random
import threading
import zlib

from ftpmock_scenarios import PASV_AUTO, login

MTIME = 1704164645          # 2024-01-02 03:04:05 UTC, what MDTM says
MDTM = "20240102030405"
STAMP = b"Jan 02  2024"

_lock = threading.Lock()
_retr_counts = {}


def file_bytes(name, size):
    """The bytes of a tree file called name (bytes) of size bytes."""
    return random.Random(zlib.crc32(name)).randbytes(size)


def _size(node):
    if isinstance(node, int):
        return node
    if isinstance(node, dict) and "file" in node:
        return node["file"]
    return None


def _is_dir(node):
    return isinstance(node, list) or (isinstance(node, dict)
                                      and ("alias" in node or "dir" in node))


def _entries(node):
    """A directory node's (name, node) list, or None."""
    if isinstance(node, dict) and "dir" in node:
        return node["dir"]
    return node if isinstance(node, list) else None


def _line(name, node):
    if isinstance(node, dict) and "raw" in node:
        return node["raw"]
    if isinstance(node, dict) and "link" in node:
        return (b"lrwxrwxrwx   1 ftp      ftp             4 " + STAMP + b" "
                + name + b" -> " + node["link"])
    if _is_dir(node):
        return (b"drwxr-xr-x   2 ftp      ftp          4096 " + STAMP + b" "
                + name)
    return (b"-rw-r--r--   1 ftp      ftp      %8d " % _size(node) + STAMP
            + b" " + name)


class Tree:
    def __init__(self, root):
        self.root = root

    def deref(self, node, depth=0):
        """An alias's directory (aliases of aliases followed, 32 at most)."""
        while isinstance(node, dict) and "alias" in node and depth < 32:
            node = self.lookup(node["alias"], [], depth + 1)[0]
            depth += 1
        return node

    def lookup(self, path, cwd, depth=0):
        """(node, components) of path (bytes) from cwd (a component
        list); node None when it does not resolve."""
        comps = [] if path.startswith(b"/") else list(cwd)
        node = None
        for c in path.split(b"/"):
            if c in (b"", b"."):
                continue
            if c == b"..":
                if comps:
                    comps.pop()
                continue
            comps.append(c)
        node = self.root
        for c in comps:
            node = _entries(self.deref(node, depth))
            if node is None:
                return None, comps
            for n, child in node:
                if n == c:
                    node = child
                    break
            else:
                return None, comps
        return self.deref(node, depth), comps

    def find(self, path, cwd):
        node, comps = self.lookup(path, cwd)
        if node is None and path:
            here = _entries(self.lookup(b"", cwd)[0])
            if here is not None:
                for n, child in here:
                    if n == path:
                        return self.deref(child), cwd + [path]
        return node, comps


def _abspath(comps):
    return b"/" + b"/".join(comps)


def serve(session, opts):
    """Answers commands from opts["root"] until the client leaves."""
    tree = Tree(opts.get("root", []))
    cwd = []
    while True:
        line = session.readline(session.server.idle)
        verb = session.verb(line)
        arg = line[len(verb) + 1:].encode("latin-1") if " " in line else b""
        if verb in ("CWD", "XCWD", "CDUP", "XCUP"):
            node, comps = tree.find(b".." if verb in ("CDUP", "XCUP")
                                    else arg, cwd)
            if _entries(node) is not None:
                cwd = comps
                session.send(b"250 Directory changed to " + _abspath(comps)
                             + b"\r\n")
            else:
                session.send(b"550 " + arg + b": No such directory.\r\n")
        elif verb in ("PWD", "XPWD"):
            session.send(b'257 "' + _abspath(cwd).replace(b'"', b'""')
                         + b'" is the current directory.\r\n')
        elif verb in ("LIST", "NLST"):
            words = [w for w in arg.split(b" ") if w and not w.startswith(b"-")]
            node, comps = tree.find(words[0] if words else b"", cwd)
            session.log("mark", text="list " + _abspath(comps).decode(
                "latin-1"))
            if _entries(node) is None:
                session.send(b"450 No such directory.\r\n")
                continue
            if isinstance(node, dict) and node.get("list_fail"):
                key = b"list " + _abspath(comps)
                with _lock:
                    n = _retr_counts[key] = _retr_counts.get(key, 0) + 1
                if n <= node["list_fail"]:
                    session.log("mark", text="list refused (%d)" % n)
                    session.send("425 Can't open data connection.\r\n")
                    continue
            node = _entries(node)
            if verb == "NLST":
                body = b"".join(n + b"\r\n" for n, _ in node)
            else:
                body = b"".join(_line(n, c) + b"\r\n" for n, c in node)
            session.send("150 Here comes the directory listing.\r\n")
            session.step_data({"data": body})
            session.send("226 Directory send OK.\r\n")
        elif verb == "REST":
            session.send("350 Restart position accepted.\r\n")
        elif verb in ("SIZE", "MDTM", "RETR"):
            node, comps = tree.find(arg, cwd)
            size = _size(node)
            if size is None:
                session.send(b"550 " + arg + b": not a plain file.\r\n")
                session.rest_offset = 0
                continue
            if verb == "SIZE":
                session.send("213 %d\r\n" % size)
                continue
            if verb == "MDTM":
                session.send("213 %s\r\n" % MDTM)
                continue
            key = _abspath(comps)
            with _lock:
                n = _retr_counts[key] = _retr_counts.get(key, 0) + 1
            session.log("mark", text="retr %s (%d)" % (key.decode("latin-1"),
                                                      n))
            if isinstance(node, dict) and node.get("retr"):
                session.rest_offset = 0
                session.send("%s %s: Permission denied.\r\n"
                             % (node["retr"], arg.decode("latin-1")))
                continue
            body = file_bytes(comps[-1], size)
            step = {"data": body, "rest": True}
            drop = isinstance(node, dict) and n <= node.get("drop", 0)
            first = drop and node.get("reply_first")
            if drop:
                step.update(limit=node.get("after", size // 2), end="reset")
            session.send("150 Opening BINARY mode data connection.\r\n")
            if first:
                session.send("426 Connection closed; transfer aborted.\r\n")
                step["delay"] = 0.3
            session.step_data(step)
            if first:
                session.log("mark", text="dropped the data connection")
            elif drop:
                session.log("mark", text="dropped the data connection")
                session.send("426 Connection closed; transfer aborted.\r\n")
            else:
                session.send("226 Transfer complete.\r\n")
        elif verb in ("MLSD", "MLST"):
            session.send("500 Unknown command.\r\n")
        else:
            session.answer_auto(line)


# ---- scenarios ---------------------------------------------------------------

LONG_NAME = b"L" * 300

# [19] names a server may send that must never become local paths as
# they are (or at all)
HOSTILE_ROOT = [
    (b"good.txt", 100),
    (b"good.txt", 100),             # listed twice
    (b"../x", 11),
    (b"../../escape", [(b"payload.txt", 12)]),
    (b"/etc/passwd", 13),
    (b"/tmp", [(b"abs.txt", 14)]),
    (b"a/b", 15),
    (b"c/d", [(b"cd.txt", 16)]),
    (b"-rf", 17),
    (b".", [(b"dot.txt", 18)]),
    (b"..", [(b"dotdot.txt", 19)]),
    (b"", 20),
    (b"cr\rname", 21),
    (b"lf\nname", 22),
    (b"evil\r\nDELE good.txt", 23),
    (b"ctl\x01\x07\x1b[31mred", 24),
    (b"nul\x00x", 25),
    (b"caf\xe9", 26),
    (LONG_NAME, 27),
    (b"lnk", {"link": b"/etc"}),
    (b"garbage", {"raw": b"this is not a listing line at all"}),
    (b"sub", [
        (b"..", [(b"up.txt", 28)]),
        (b"../../../etc/shadow", 29),
        (b"/", [(b"root.txt", 30)]),
        (b"inner.txt", 31),
    ]),
]

# the names above that are plain enough to be taken as they are
HOSTILE_PLAIN = {b"good.txt": 100, b"-rf": 17, b"caf\xe9": 26,
                 b"sub/inner.txt": 31}

# a directory listing itself as its own subdirectory, and one whose
# subdirectory lists the parent's entries
LOOP_ROOT = [
    (b"ok.txt", 7),
    (b"loop", [(b"loop", {"alias": b"/loop"}), (b"f.txt", 5)]),
    (b"p", [(b"child", {"alias": b"/p"}), (b"g.txt", 6)]),
]

DEEP_LEVELS = 200


def deep_tree(levels=DEEP_LEVELS):
    """d/d/d/... levels deep, with f<N>.txt (N+1 bytes) at depth N."""
    node = [(b"f%d.txt" % levels, levels + 1)]
    for depth in range(levels - 1, -1, -1):
        node = [(b"d", node), (b"f%d.txt" % depth, depth + 1)]
    return node


# a tree where one RETR is refused and another is cut short once
FAIL_ROOT = [
    (b"ok1.bin", 10000),
    (b"ok2.bin", 20000),
    (b"denied.bin", {"file": 4000, "retr": "550"}),
    (b"flaky.bin", {"file": 300000, "drop": 1, "after": 100000}),
    (b"sub", [(b"ok3.bin", 30000), (b"empty", [])]),
]


# one file refused (426) before its first bytes arrive, then dropped
REPLY_FIRST_ROOT = [
    (b"early.bin", {"file": 200000, "drop": 1, "after": 80000,
                    "reply_first": True}),
    (b"ok.bin", 5000),
]


# segmented downloads: 4 MiB (four ranges of 1 MiB), the first RETR of
# it dropped after 300,000 bytes
SEGMENTS_ROOT = [
    (b"big.bin", {"file": 4 << 20, "drop": 1, "after": 300000}),
    (b"dir", [(b"x", 1)]),
]


# a directory whose listing fails twice before it works
FLAKY_LIST_ROOT = [
    (b"a.bin", 1000),
    (b"flaky", {"dir": [(b"b.bin", 2000), (b"deeper", [(b"c.bin", 3000)])],
                "list_fail": 2}),
]


def tree_scenario(root):
    return login() + [{"auto": PASV_AUTO}, {"tree": {"root": root}}]


SCENARIOS = {
    "tree_hostile": lambda: tree_scenario(HOSTILE_ROOT),
    "tree_loops": lambda: tree_scenario(LOOP_ROOT),
    "tree_deep": lambda: tree_scenario(deep_tree()),
    "tree_retr_fail": lambda: tree_scenario(FAIL_ROOT),
    "tree_flaky_list": lambda: tree_scenario(FLAKY_LIST_ROOT),
    "tree_reply_first": lambda: tree_scenario(REPLY_FIRST_ROOT),
    "segments_flaky": lambda: tree_scenario(SEGMENTS_ROOT),
}
