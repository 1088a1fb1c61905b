"""The soak test's settings (paths, environment, limits) and the small
helpers every part of it uses: log(), fmt_bytes() and PROCS, the record
of every process the run started. tests/soak/run documents the
environment; tests/soak/README.md says more."""
import os
import random
import shutil
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("FTPA_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("FTPA_BUILDDIR") or next(
    (d for d in (os.path.join(SRCDIR, b) for b in ("build-soak", "build"))
     if os.access(os.path.join(d, "ftpd-agent"), os.X_OK)),
    os.path.join(SRCDIR, "build-soak"))
os.environ["FTPA_SRCDIR"] = SRCDIR
os.environ["FTPA_BUILDDIR"] = BUILDDIR
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integ"))
import ftpa  # noqa: E402

PYTHON = "/usr/bin/python3"
AGENT = os.path.join(BUILDDIR, "ftpd-agent")
FTPCTL = os.path.join(BUILDDIR, "ftpctl")
PROXY = os.path.join(HERE, "proxy.py")
SERVER = os.path.join(HERE, "server.py")
FRONT, BACK = "127.0.0.2", "127.0.0.1"   # proxy side, server side
PASSIVE_PORTS = 48
PASSWORD = "soak-Secret-%d" % os.getpid()
MIB = 1 << 20


def env_num(name, default, kind=float):
    v = os.environ.get(name)
    return kind(v) if v not in (None, "") else default


TRANSFERS = env_num("SOAK_TRANSFERS", 10000, int)
SECONDS = env_num("SOAK_SECONDS", 1800)
SEED = env_num("SOAK_SEED", random.SystemRandom().randrange(1, 1 << 31), int)
WORKERS = env_num("SOAK_WORKERS", 16, int)
CTRL_FAULTS = env_num("SOAK_CTRL_FAULTS", 0.25)
DATA_FAULTS = env_num("SOAK_DATA_FAULTS", 0.08)
KILL_EVERY = env_num("SOAK_KILL_EVERY", 10)
SHARE_FTPCTL = env_num("SOAK_FTPCTL", 0.08)
SHARE_INLINE = env_num("SOAK_INLINE", 0.08)
BIG = env_num("SOAK_BIG", 1, int)
LENIENT = env_num("SOAK_LENIENT", 0, int)
KEEP = env_num("SOAK_KEEP", 0, int)
VERBOSE = env_num("SOAK_VERBOSE", 0, int)
MALLOC_STATS = env_num("SOAK_MALLOC_STATS",
                       1 if shutil.which("gdb") else 0, int)

# The session options: short timeouts and quick retries, so that a run
# sees many faults and still moves on (a stall is 0.5-8 s, a killed server
# is back within about 2.5 s; the retry pauses add up to 12.7 s).
SESSION_OPTS = {"max_connections": 4, "retries": 7, "retry_delay": 0.1,
                "connect_timeout": 3, "reply_timeout": 6, "data_timeout": 4}
CALL_TIMEOUT = 300          # a transfer taking longer has hung
# The agent's descriptors at the end, with every session closed, against
# the start's: no tolerance. The start is measured after a warm-up that
# went through every path once (plain and TLS, get and put) and closed its
# sessions, so whatever the agent opens once and keeps is open by then;
# whatever a session or a transfer opens must be closed with it.
# Soak.measure() gives the closing sessions up to 20 s (their QUIT may
# meet a stalled proxy connection: reply_timeout is 6 s).
FD_TOLERANCE = 0
# RSS is only shown: glibc keeps the heap that the busy part of the run
# needed (the 256 KiB transfer buffers of 16 transfers at once, TLS
# buffers) and RSS stays up after it is freed. What the agent still has
# allocated at the end (malloc_stats, when gdb can attach) is checked: it
# grows by some 50 KiB whether the run is 1,000 or 10,000 transfers long
# (caches filled once); 1 MiB more would be a leak of 100 bytes a transfer
# in a run of 10,000.
HEAP_TOLERANCE = 1 * MIB


def log(*a):
    print(*a, flush=True)


def fmt_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else \
                "%.1f %s" % (n, unit)
        n /= 1024.0
    return str(n)


def remove_files(*paths):
    """Unlink each path that exists."""
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


class Procs:
    """Every process this run started, stopped by pid at the end."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs = []

    def add(self, proc):
        with self.lock:
            self.procs.append(proc)
        return proc

    def remove(self, proc):
        with self.lock:
            self.procs.remove(proc)

    def stop_all(self):
        with self.lock:
            procs = list(self.procs)
        for p in reversed(procs):
            ftpa.stop_process(p)


PROCS = Procs()
