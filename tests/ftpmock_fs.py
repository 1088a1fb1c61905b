"""ftpmock's {"fs": {...}} step: a small file tree served over FTP.

    {"fs": {"tree": {"dir with space": {"a.txt": 5}, "f": 12},
            "list_split": true}}

The tree is nested dicts: a dict is a directory, an int a file of that
many bytes (the bytes of payload(size, seed) with seed = the length of
the file's path, so a test can compute them). From the step on, the
session answers CWD, CDUP, PWD, LIST, NLST, SIZE, MDTM and RETR from the
tree (data connections come from automatic EPSV/PASV replies, "<pasv>")
and every other command from the automatic replies, until the client
leaves.

"list_split": LIST (and NLST) behave like servers that hand their
argument to /bin/ls: it is split at white space, words that start with
"-" are options and ignored, and each other word is listed on its own
(a directory's entries under a "word:" header when there are several
words, a file's line, or "ls: word: No such file or directory"), all on
the data connection, then 226. Without it the whole argument names one
path, and a missing one gets 450 ("missing_empty": true: 150, nothing,
226, as vsftpd answers). "pwd": false refuses PWD (502), so a
client cannot learn its login directory. Every LIST/NLST logs a "mark" naming
the words it listed ("list ['a', 'b']").
"""

import posixpath

STAMP = "Jan 02  2024"
MDTM = "20240102030405"


def _node(tree, cwd, path):
    """The node at path (absolute or relative to cwd) and its absolute
    path, or (None, abspath)."""
    full = posixpath.normpath(posixpath.join(cwd, path or "."))
    if full.startswith("//"):
        full = full[1:]
    node = tree
    for part in [p for p in full.split("/") if p]:
        if not isinstance(node, dict) or part not in node:
            return None, full
        node = node[part]
    return node, full


def _line(name, node):
    if isinstance(node, dict):
        return "drwxr-xr-x   2 ftp      ftp          4096 %s %s" % (STAMP,
                                                                      name)
    return "-rw-r--r--   1 ftp      ftp      %8d %s %s" % (node, STAMP, name)


def _listing(tree, cwd, arg, split, names_only):
    """The bytes LIST/NLST sends, or None for "no such path" (450)."""
    if split:
        words = [w for w in arg.split() if not w.startswith("-")]
    else:
        words = [arg] if arg else []
    targets = words or ["."]
    out = []
    for w in targets:
        node, _ = _node(tree, cwd, w)
        if node is None:
            if not split:
                return None, targets
            out.append("ls: %s: No such file or directory" % w)
        elif isinstance(node, dict):
            if len(targets) > 1:
                out.append("%s:" % w)
            for name in sorted(node):
                out.append(name if names_only else _line(name, node[name]))
        else:
            out.append(w if names_only else _line(posixpath.basename(w), node))
    return "".join(l + "\r\n" for l in out).encode("utf-8", "surrogateescape"), \
        targets


def serve(session, opts, payload):
    """Answers commands from the tree until the client leaves (the
    session's Closed ends it); payload(size, seed) makes file bytes."""
    tree = opts.get("tree", {})
    split = bool(opts.get("list_split"))
    cwd = "/"
    while True:
        line = session.readline(session.server.idle)
        verb = session.verb(line)
        arg = line[len(verb) + 1:] if " " in line else ""
        if verb in ("CWD", "XCWD", "CDUP", "XCUP"):
            node, full = _node(tree, cwd, ".." if verb in ("CDUP", "XCUP")
                               else arg)
            if isinstance(node, dict):
                cwd = full
                session.send("250 Directory changed to %s.\r\n" % full)
            else:
                session.send("550 %s: No such file or directory.\r\n" % arg)
        elif verb in ("PWD", "XPWD") and not opts.get("pwd", True):
            session.send("502 PWD not implemented.\r\n")
        elif verb in ("PWD", "XPWD"):
            session.send('257 "%s" is the current directory.\r\n' % cwd)
        elif verb in ("LIST", "NLST"):
            body, words = _listing(tree, cwd, arg, split, verb == "NLST")
            session.log("mark", text="list %r" % (words,))
            if body is None and opts.get("missing_empty"):
                body = b""
            elif body is None:
                session.send("450 %s: No such file or directory.\r\n" % arg)
                continue
            session.send("150 Opening ASCII mode data connection.\r\n")
            session.step_data({"data": body})
            session.send("226 Transfer complete.\r\n")
        elif verb in ("SIZE", "MDTM", "RETR"):
            node, full = _node(tree, cwd, arg)
            if node is None or isinstance(node, dict):
                session.send("550 %s: not a plain file.\r\n" % arg)
            elif verb == "SIZE":
                session.send("213 %d\r\n" % node)
            elif verb == "MDTM":
                session.send("213 %s\r\n" % MDTM)
            else:
                session.send("150 Opening BINARY mode data connection.\r\n")
                session.step_data({"data": payload(node, len(full))})
                session.send("226 Transfer complete.\r\n")
        else:
            session.answer_auto(line)
