"""What the soak test counts (Tally) and how it judges one transfer:
a success must have the file's hash, a failure may only leave a prefix
of the file."""
import collections
import hashlib
import os
import threading

from soak_config import MIB, VERBOSE, ftpa, log


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = collections.Counter()
        self.fail_kinds = collections.Counter()
        self.examples = collections.defaultdict(list)
        self.problems = []          # corrupted, bad partial, hung: details

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def succeeded(self, t):
        with self.lock:
            self.c["ok"] += 1
            self.c["bytes"] += t["size"]

    def example(self, kind, text):
        """Keeps the first 4 examples of each kind."""
        with self.lock:
            ex = self.examples[kind]
            if len(ex) < 4:
                ex.append(text)

    def failed(self, t, kind, msg):
        with self.lock:
            self.c["failed"] += 1
            self.fail_kinds["%s %s" % (t["dir"], kind)] += 1
        self.example(kind, "%s: %s" % (t["desc"], msg))
        if VERBOSE:
            log("  failed: %s: %s: %s" % (t["desc"], kind, msg))

    def problem(self, key, t, msg):
        with self.lock:
            self.c[key] += 1
            self.problems.append("%s: %s: %s" % (key, t["desc"], msg))
        log("  !! %s: %s: %s" % (key, t["desc"], msg))


def is_prefix(path_or_bytes, src_path):
    """Whether the bytes (or the file's) are a prefix of src_path's."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
        with open(src_path, "rb") as f:
            return f.read(len(data) + 1)[:len(data)] == data and \
                len(data) <= os.path.getsize(src_path)
    try:
        fa = open(path_or_bytes, "rb")
    except FileNotFoundError:
        return True
    with fa, open(src_path, "rb") as fb:
        while True:
            a = fa.read(MIB)
            if not a:
                return True
            if fb.read(len(a)) != a:
                return False


def sha256_path(path):
    try:
        return ftpa.sha256_file(path)
    except FileNotFoundError:
        return None


def check_get(tally, t, ok, local, err=None):
    """Downloads (local: the file's path, or the inline bytes): on
    success the hash; on failure what is left must be a prefix of the
    file."""
    if ok:
        h = sha256_path(local) if isinstance(local, str) else \
            hashlib.sha256(local).hexdigest()
        if h != t["sha"]:
            size = (os.path.getsize(local) if isinstance(local, str)
                    and os.path.exists(local) else
                    len(local) if not isinstance(local, str) else None)
            tally.problem("corrupted", t, "download reported done "
                          "but its hash differs (%s B of %d)"
                          % (size, t["size"]))
        else:
            tally.succeeded(t)
    else:
        if local is not None and not is_prefix(local, t["src"]):
            tally.problem("bad_partial", t, "a failed download left "
                          "bytes that are not a prefix of the file "
                          "(%s)" % err)


def check_put(tally, t, ok, remote, err=None):
    """Uploads (remote: the file in the server's directory): the same."""
    if ok:
        h = sha256_path(remote)
        if h != t["sha"]:
            size = os.path.getsize(remote) if h else None
            tally.problem("corrupted", t, "upload reported done but "
                          "the server's file differs (%s B of %d)"
                          % (size, t["size"]))
        else:
            tally.succeeded(t)
    elif not is_prefix(remote, t["src"]):
        tally.problem("bad_partial", t, "a failed upload left a "
                      "server file that is not a prefix (%s)" % err)
