"""The soak run as a whole: set-up (pool, certificates, servers, proxy,
agent), the warm-up and the agent's figures at the start, the workers
with the server killer and the monitor beside them, and the checks at
the end."""
import json
import os
import random
import threading
import time

from soak_checks import Tally
from soak_config import (BACK, CTRL_FAULTS, DATA_FAULTS, FRONT, KILL_EVERY,
                         LENIENT, MALLOC_STATS, PASSIVE_PORTS, PASSWORD,
                         SEED, SESSION_OPTS, TRANSFERS, VERBOSE, WORKERS,
                         fmt_bytes, ftpa, log)
from soak_plan import SERVERS, Plan, WorkDirs
from soak_procs import (FtpServer, agent_fd_list, agent_fds, agent_rss,
                        free_block, make_certs, malloc_stats, start_agent,
                        start_proxy)
from soak_report import log_progress, report
from soak_workers import Workers


class Soak:
    def __init__(self, workdir):
        self.workdir = workdir
        self.dirs = WorkDirs(workdir)
        self.tally = Tally()
        self.stop = threading.Event()
        self.t0 = None
        self.peak_fds = 0
        self.peak_rss = 0
        self.sessions = {}          # server name -> [session ids]
        self.agent_dead = False
        self.agent_exit = None
        self.end_stats = None
        self.base_fds = None
        self.base_heap = None
        self.elapsed = 0

    # -- setting up
    def setup(self):
        self.dirs.make()
        self.plan = Plan(self.dirs.pool)
        self.certs = make_certs(self.workdir)
        self.start_servers()
        self.agent = start_agent(self.workdir)

    def start_servers(self):
        """The servers, each on a block of free ports, and the proxy in
        front of them."""
        taken = []
        self.servers = {}
        maps = []
        prng = random.Random()
        for name, tls, _ in SERVERS:
            base = free_block(PASSIVE_PORTS + 1, prng, taken)
            srv = FtpServer(name, tls, base, base + 1, base + PASSIVE_PORTS,
                            self.dirs.home, self.certs, self.workdir)
            srv.start()
            self.servers[name] = srv
            maps += ["--map", name, str(base), str(base + 1),
                     str(base + PASSIVE_PORTS)]
        self.proxy_stats = start_proxy(self.workdir, maps)

    def open_session(self, rpc, srv, host, name=None, tries=60):
        params = dict(SESSION_OPTS, host=host, port=srv.port, user="soak",
                      password=PASSWORD, tls=srv.tls,
                      ca_file=self.certs[0])
        if name:
            params["name"] = name
        last = None
        for _ in range(tries):
            try:
                return rpc.call("session.open", params, timeout=60)["session"]
            except ftpa.RpcError as e:
                last = e
                time.sleep(0.3)
        raise RuntimeError("cannot open a session to %s: %s" % (srv.name, last))

    def measure(self, what):
        """The agent's (descriptors, RSS, heap) once the descriptors are
        steady; logged."""
        pid = self.agent.pid
        deadline = time.monotonic() + 20
        # descriptors of closed sessions go once the QUITs are answered
        prev = None
        while time.monotonic() < deadline:
            n = agent_fds(pid)
            if n == prev and (self.base_fds is None or n <= self.base_fds):
                break
            prev = n
            time.sleep(1)
        fds, rss = agent_fds(pid), agent_rss(pid)
        heap = malloc_stats(self.agent) if MALLOC_STATS else None
        log("agent at %s: %d open descriptors, RSS %s%s"
            % (what, fds, fmt_bytes(rss), ", heap in use %s of %s" % (
                fmt_bytes(heap[1]), fmt_bytes(heap[0])) if heap else ""))
        return fds, rss, heap

    @staticmethod
    def rpc_with_file(rpc, method, sid, path, file_path, flags):
        """transfer.get or .put of path with file_path opened with flags."""
        fd = os.open(file_path, flags, 0o600)
        try:
            rpc.call(method, {"session": sid, "fd": 0, "path": path},
                     fds=[fd], timeout=60)
        finally:
            os.close(fd)

    def warm_up(self):
        """One get and one put per server straight to the server (no
        proxy), so that what the agent sets up on first use (OpenSSL,
        buffers) is there before the start is measured; then the
        sessions are closed."""
        rpc = self.agent.rpc(60)
        src = os.path.join(self.dirs.pool, "f100000.bin")
        warm = os.path.join(self.dirs.dl, "warm")
        for srv in self.servers.values():
            sid = self.open_session(rpc, srv, BACK)
            self.rpc_with_file(rpc, "transfer.get", sid, "pool/f100000.bin",
                               warm, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            self.rpc_with_file(rpc, "transfer.put", sid, "up/warm", src,
                               os.O_RDONLY)
            rpc.call("session.close", {"session": sid})
        os.unlink(warm)
        os.unlink(os.path.join(self.dirs.up, "warm"))
        rpc.close()
        time.sleep(3)               # job_retention is 2 s
        self.base_fds = None
        self.base_fds, self.base_rss, self.base_heap = self.measure("start")
        self.base_fd_list = agent_fd_list(self.agent.pid)

    def check_agent(self):
        if self.agent.proc.poll() is not None and not self.agent_dead:
            self.agent_dead = True
            log("!! the agent died: exit status %s; log %s"
                % (self.agent.proc.returncode, self.agent.log))
            self.stop.set()

    # -- background activity
    def killer(self):
        r = random.Random(SEED ^ 0x5eed)
        names = sorted(self.servers)
        while not self.stop.is_set():
            if self.stop.wait(KILL_EVERY * r.uniform(0.5, 1.5)):
                break
            srv = self.servers[r.choice(names)]
            down = r.uniform(0.2, 2.0)
            srv.kill()
            self.stop.wait(down)
            srv.restart()
            if VERBOSE:
                log("  killed and restarted server %s (down %.1f s)"
                    % (srv.name, down))

    def proxy_stats_now(self):
        try:
            with open(self.proxy_stats) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"faults": {}, "connections": {}, "refused": 0}

    def monitor(self):
        last_print = time.monotonic()
        while not self.stop.wait(1):
            pid = self.agent.pid
            n, rss = agent_fds(pid), agent_rss(pid)
            self.check_agent()
            if n:
                self.peak_fds = max(self.peak_fds, n)
            if rss:
                self.peak_rss = max(self.peak_rss, rss)
            if time.monotonic() - last_print >= 10:
                last_print = time.monotonic()
                log_progress(self, n, rss)

    # -- the whole run
    def run(self):
        """Returns the exit status: 0 pass, 1 fail."""
        t_setup = self.t_start = time.monotonic()
        log("soak: seed %d, %d transfers, %d at once, faults: control %.2f "
            "data %.2f, a server kill every ~%gs%s"
            % (SEED, TRANSFERS, WORKERS, CTRL_FAULTS, DATA_FAULTS, KILL_EVERY,
               ", lenient server" if LENIENT else ""))
        log("soak: work directory %s" % self.workdir)
        self.setup()
        self.warm_up()
        rpc = self.agent.rpc(60)
        for name, _, _ in SERVERS:
            srv = self.servers[name]
            self.sessions[name] = [
                self.open_session(rpc, srv, FRONT, "%s%d" % (name, k))
                for k in (1, 2)]
        log("soak: set up in %.1f s; sessions %s"
            % (time.monotonic() - t_setup,
               ", ".join(s for v in self.sessions.values() for s in v)))
        self.transfers()
        if self.agent_dead:
            try:
                rpc.close()
            except OSError:
                pass
            return report(self, None, None)
        return self.finish(rpc)

    def transfers(self):
        """The workers, with the monitor and the killer, to the end."""
        workers = Workers(self.agent, self.plan, self.sessions, self.dirs,
                          self.tally, self.stop, self.check_agent)
        self.t0 = time.monotonic()
        threads = workers.start(self.t0)
        mon = threading.Thread(target=self.monitor, daemon=True)
        kil = threading.Thread(target=self.killer, daemon=True)
        mon.start()
        if KILL_EVERY > 0:
            kil.start()
        for th in threads:
            while th.is_alive():
                th.join(1)
        self.elapsed = time.monotonic() - self.t0
        self.stop.set()
        if kil.is_alive():
            kil.join()
        mon.join()
        self.check_agent()

    def finish(self, rpc):
        """Every server up, then the sessions closed and the start's
        state: the figures at the end, SIGTERM, the summary."""
        for srv in self.servers.values():
            if srv.proc is None or srv.proc.poll() is not None:
                srv.restart()
        for ids in self.sessions.values():
            for sid in ids:
                try:
                    rpc.call("session.close", {"session": sid}, timeout=60)
                except ftpa.RpcError as e:
                    log("session.close %s: %s" % (sid, e))
        left = [j for j in rpc.call("job.list", timeout=30)
                if j.get("state") in ("queued", "running")]
        time.sleep(1)
        self.end_stats = rpc.call("agent.stats", timeout=30)
        rpc.close()
        time.sleep(3)               # job_retention is 2 s
        end = self.measure("end")
        self.stop_agent()
        return report(self, end, left)

    def stop_agent(self):
        """SIGTERM: the agent must exit 0 within 10 s."""
        rc, killed = ftpa.stop_process(self.agent.proc)
        if killed or rc != 0:
            self.agent_exit = "exit status %s after SIGTERM%s" % (
                rc, " (needed SIGKILL)" if killed else "")
