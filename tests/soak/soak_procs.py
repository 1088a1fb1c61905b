"""The soak test's processes: free ports, the servers' certificates, the
FTP servers (server.py, killed and restarted), the proxy (proxy.py) and
the agent, and what /proc and gdb tell about the agent."""
import os
import signal
import socket
import subprocess
import threading
import time

from soak_config import (AGENT, BACK, CTRL_FAULTS, DATA_FAULTS, FRONT,
                         LENIENT, PASSWORD, PROCS, PROXY, PYTHON, SEED,
                         SERVER, ftpa)


def local_port_floor():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_block(n, rng, taken):
    """n consecutive ports free on both FRONT and BACK, below the
    ephemeral range (so no outgoing connection holds one)."""
    hi = local_port_floor() - n - 1
    for _ in range(500):
        base = rng.randint(10000, hi)
        if any(base <= t < base + n or t <= base < t + n for t in taken):
            continue
        socks = []
        try:
            for p in range(base, base + n):
                for host in (FRONT, BACK):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    socks.append(s)
                    s.bind((host, p))
            taken.append(base)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of %d free ports" % n)


def make_certs(d):
    """A CA and a server certificate for 127.0.0.2 (where the agent
    connects: the proxy) and 127.0.0.1."""
    def ossl(*args):
        subprocess.run(["openssl"] + list(args), check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
         "-out", ca, "-days", "3", "-subj", "/CN=ftpd-agent soak CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    cert, key = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
    csr, ext = os.path.join(d, "server.csr"), os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.2,IP:127.0.0.1,DNS:localhost\n")
    ossl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
         "-out", csr, "-subj", "/CN=127.0.0.2")
    ossl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-set_serial", "4242", "-days", "3", "-extfile", ext, "-out", cert)
    return ca, cert, key


class FtpServer:
    """One server.py: started, SIGKILLed and started again on its ports."""

    def __init__(self, name, tls, port, plo, phi, home, certs, workdir):
        self.name, self.tls, self.port = name, tls, port
        self.plo, self.phi = plo, phi
        self.home, self.certs = home, certs
        self.log = os.path.join(workdir, "server-%s.log" % name)
        self.proc = None
        self.lock = threading.Lock()
        self.kills = 0

    def start(self, tries=100):
        cmd = [PYTHON, SERVER, "--home", self.home, "--port", str(self.port),
               "--passive-ports", "%d-%d" % (self.plo, self.phi),
               "--masquerade", FRONT, "--tls", self.tls, "--log", self.log]
        if self.tls != "none":
            cmd += ["--cert", self.certs[1], "--key", self.certs[2]]
        if LENIENT:
            cmd.append("--lenient")
        env = dict(os.environ, SOAK_PASSWORD=PASSWORD)
        for i in range(tries):
            proc = PROCS.add(subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=open(self.log + ".stderr", "ab"), env=env,
                start_new_session=True))
            try:
                line = ftpa.read_line_from(proc, 15, "server " + self.name)
                if line.startswith("ready"):
                    self.proc = proc
                    return
            except AssertionError:
                pass
            ftpa.stop_process(proc, signal.SIGKILL)
            time.sleep(0.1)
        raise RuntimeError("server %s does not start (see %s)"
                           % (self.name, self.log))

    def kill(self):
        with self.lock:
            ftpa.stop_process(self.proc, signal.SIGKILL)
            self.kills += 1

    def restart(self):
        with self.lock:
            self.start()


def start_proxy(workdir, maps):
    """proxy.py in front of the servers (maps: its --map arguments);
    returns the path of its stats file."""
    stats = os.path.join(workdir, "proxy-stats.json")
    log_path = os.path.join(workdir, "proxy.log")
    proxy = PROCS.add(subprocess.Popen(
        [PYTHON, PROXY, "--seed", str(SEED), "--stats", stats,
         "--log", log_path, "--ctrl-rate", str(CTRL_FAULTS),
         "--data-rate", str(DATA_FAULTS), "--listen", FRONT,
         "--upstream", BACK] + maps,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=open(log_path + ".stderr", "ab"),
        start_new_session=True))
    if ftpa.read_line_from(proxy, 15, "the proxy") != "ready":
        raise RuntimeError("the proxy did not start")
    return stats


def start_agent(workdir):
    sock = os.path.join(workdir, "agent.sock")
    conf = os.path.join(workdir, "agent.conf")
    log_path = os.path.join(workdir, "agent.log")
    with open(conf, "w") as f:
        # finished jobs are forgotten after 2 s, so that the end's RSS
        # is not that of 10,000 kept job objects
        f.write("job_retention = 2\nmax_jobs_per_uid = 100000\n"
                "max_sessions_per_uid = 1000\n")
    env = dict(os.environ, XDG_RUNTIME_DIR=workdir)
    env.pop("FTPCTL_PASSWORD", None)
    with open(log_path, "wb") as lf:
        proc = PROCS.add(subprocess.Popen(
            [AGENT, "--user", "-f", "-S", sock, "-c", conf],
            stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
            env=env, start_new_session=True))
    agent = ftpa.Agent(proc, sock, log_path)

    def ready():
        if proc.poll() is not None:
            raise RuntimeError("ftpd-agent exited with %s:\n%s"
                               % (proc.returncode, agent.log_text()[-3000:]))
        return agent.answers()
    ftpa.wait_until(ready, 15, what="the agent to answer")
    return agent


def agent_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def agent_fd_list(pid):
    out = []
    try:
        for n in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
            try:
                out.append("%s -> %s" % (n, os.readlink(
                    "/proc/%d/fd/%s" % (pid, n))))
            except OSError:
                pass
    except OSError:
        pass
    return out


def agent_rss(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def malloc_stats(agent):
    """glibc's malloc_stats() in the agent (through gdb), which writes
    to its stderr, the log: (the heap the agent has from the system,
    what of it is in use), or None."""
    since = agent.log_size()
    try:
        subprocess.run(["gdb", "-p", str(agent.pid), "-batch",
                        "-nx", "-ex", "call (void)malloc_stats()"],
                       stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    time.sleep(0.2)
    with open(agent.log, "rb") as f:
        f.seek(since)
        lines = f.read().decode("utf-8", "replace").splitlines()
    # the last "system bytes" and "in use bytes" are the totals
    vals = {}
    for ln in lines:
        k, _, v = ln.partition("=")
        k = k.strip()
        if k in ("system bytes", "in use bytes"):
            try:
                vals[k] = int(v)
            except ValueError:
                pass
    if len(vals) < 2:
        return None
    return vals["system bytes"], vals["in use bytes"]
