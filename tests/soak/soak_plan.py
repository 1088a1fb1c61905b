"""The soak test's work directory, its pool of files and the plan: what
each transfer is (direction, server, session, file, RPC or ftpctl),
drawn from the seed and the transfer's number alone."""
import os
import random

from soak_config import BIG, MIB, SEED, SHARE_FTPCTL, SHARE_INLINE, ftpa

# The files that get and put move: (size, weight). Mostly small, edges
# around buffer and TLS record sizes, and a few big ones.
POOL_SIZES = [
    (0, 4), (1, 4), (100, 5), (1000, 5), (4095, 4), (4096, 4), (4097, 4),
    (16384, 5), (16385, 4), (65535, 4), (65536, 4), (100000, 5),
    (262144, 4), (262145, 4), (524288, 4), (1 * MIB - 1, 3), (1 * MIB, 3),
    (1 * MIB + 1, 3), (3 * MIB + 7, 2),
]
POOL_BIG = [(8 * MIB, 1.0), (32 * MIB - 3, 0.15)]
SERVERS = [("plain", "none", 4), ("explicit", "explicit", 4),
           ("implicit", "implicit", 2)]           # name, tls, weight


class WorkDirs:
    """The run's directories: the servers' home with the pool (home/pool)
    and the uploads (home/up), the downloads (dl) and ftpctl's HOME."""

    def __init__(self, workdir):
        self.work = workdir
        self.home = os.path.join(workdir, "home")
        self.pool = os.path.join(self.home, "pool")
        self.up = os.path.join(self.home, "up")
        self.dl = os.path.join(workdir, "dl")
        self.ctl_home = os.path.join(workdir, "ctlhome")

    def make(self):
        for d in (self.pool, self.up, self.dl, self.ctl_home):
            os.makedirs(d)


class Plan:
    """The pool of files (made in pool_dir) and, from the seed, what
    transfer i is."""

    def __init__(self, pool_dir):
        self.pool_dir = pool_dir
        self.pool = []              # (name, size, sha256, weight)
        sizes = POOL_SIZES + (POOL_BIG if BIG else [])
        for size, weight in sizes:
            name = "f%d.bin" % size
            h = ftpa.make_file(os.path.join(pool_dir, name), size)
            self.pool.append((name, size, h, weight))

    def transfer(self, i, sessions):
        """Transfer i as a dict; sessions: server name -> session ids."""
        r = random.Random("%d/%d" % (SEED, i))
        name, size, h, _ = r.choices(self.pool,
                                     weights=[p[3] for p in self.pool])[0]
        srv = r.choices([s[0] for s in SERVERS],
                        weights=[s[2] for s in SERVERS])[0]
        d = r.choice(("get", "put"))
        x = r.random()
        if x < SHARE_FTPCTL:
            how = "ftpctl"
        elif x < SHARE_FTPCTL + SHARE_INLINE and size <= 512 << 10:
            how = "inline"
        else:
            how = "fd"
        sess = r.choice(sessions[srv])
        return {"i": i, "dir": d, "srv": srv, "how": how, "name": name,
                "size": size, "sha": h, "session": sess,
                "src": os.path.join(self.pool_dir, name),
                "desc": "#%d %s %s %s %s (%d B) via %s" % (
                    i, d, how, srv, name, size, sess)}
