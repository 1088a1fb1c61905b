"""The soak test's transfer workers: each takes the next transfer of the
plan, makes it through the agent's JSON-RPC (a descriptor passed with
SCM_RIGHTS, or inline base64 data) or through ftpctl, and checks what
came of it."""
import base64
import json
import os
import signal
import socket
import subprocess
import threading
import time
import traceback

from soak_checks import check_get, check_put, sha256_path
from soak_config import (CALL_TIMEOUT, FTPCTL, PROCS, SECONDS, TRANSFERS,
                         WORKERS, ftpa, remove_files)


class Workers:
    """WORKERS threads running the plan's transfers one after the other.

    agent: the ftpa.Agent; plan: a soak_plan.Plan; sessions: server name
    -> session ids; dirs: the soak_plan.WorkDirs; stop: an Event that
    ends the run; check_agent: called when an RPC connection broke."""

    def __init__(self, agent, plan, sessions, dirs, tally, stop,
                 check_agent):
        self.agent, self.plan, self.sessions = agent, plan, sessions
        self.dirs, self.tally, self.stop = dirs, tally, stop
        self.check_agent = check_agent
        self.lock = threading.Lock()
        self.next_i = 0
        self.t0 = None

    def start(self, t0):
        """Starts the threads (no new transfer SECONDS after t0) and
        returns them."""
        self.t0 = t0
        threads = [threading.Thread(target=self.worker, daemon=True)
                   for _ in range(WORKERS)]
        for th in threads:
            th.start()
        return threads

    def take(self):
        with self.lock:
            if self.stop.is_set() or self.next_i >= TRANSFERS or \
                    time.monotonic() - self.t0 > SECONDS:
                return None
            i = self.next_i
            self.next_i += 1
            return i

    def worker(self):
        rpc = None
        while True:
            i = self.take()
            if i is None:
                break
            t = self.plan.transfer(i, self.sessions)
            try:
                if t["how"] == "ftpctl":
                    self.via_ftpctl(t)
                else:
                    if rpc is None:
                        rpc = self.agent.rpc(CALL_TIMEOUT)
                    if not self.via_rpc(rpc, t):
                        rpc.close()
                        rpc = None
            except Exception:       # noqa: BLE001  (a soak bug: report)
                self.tally.problem("errors", t, traceback.format_exc())
                if rpc is not None:
                    rpc.close()
                    rpc = None
            self.tally.add("done")
            self.tally.add("%s %s" % (t["dir"], t["how"]))
            self.tally.add("srv " + t["srv"])
        if rpc is not None:
            rpc.close()

    # -- through the JSON-RPC
    def via_rpc(self, rpc, t):
        """One transfer over the RPC connection; False when the connection
        should not be used again."""
        remote = os.path.join(self.dirs.up, "%d.bin" % t["i"])
        local = os.path.join(self.dirs.dl, "%d.bin" % t["i"])
        params, fd = self.rpc_request(t, local)
        reply = self.rpc_call(rpc, t, params, fd)
        if reply is None:
            return False
        ok = self.judge_reply(t, reply)
        try:
            err = None if ok else reply["error"].get("message")
            if t["dir"] == "put":
                check_put(self.tally, t, ok, remote, err)
            elif t["how"] != "inline":
                check_get(self.tally, t, ok, local, err)
            else:
                data = base64.b64decode(reply["result"]["data"]) if ok \
                    else None
                check_get(self.tally, t, ok, data)
        finally:
            remove_files(local, remote)
        return True

    @staticmethod
    def rpc_request(t, local):
        """The params of transfer t's call and the descriptor it passes
        (-1: none; the caller closes it)."""
        params = {"session": t["session"], "progress": True}
        fd = -1
        if t["dir"] == "get":
            params["path"] = "pool/" + t["name"]
            if t["how"] == "inline":
                params["inline"] = True
            else:
                fd = os.open(local, os.O_RDWR | os.O_CREAT | os.O_TRUNC,
                             0o600)
        else:
            params["path"] = "up/%d.bin" % t["i"]
            if t["how"] == "inline":
                with open(t["src"], "rb") as f:
                    params["data"] = base64.b64encode(f.read()).decode()
            else:
                fd = os.open(t["src"], os.O_RDONLY)
        if fd >= 0:
            params["fd"] = 0
        return params, fd

    def rpc_call(self, rpc, t, params, fd):
        """The reply to transfer t's call (closes fd), or None when it
        hung or the connection broke (counted)."""
        try:
            rpc.notifications.clear()
            try:
                return rpc.call_raw("transfer.%s" % t["dir"], params,
                                    fds=[fd] if fd >= 0 else [],
                                    timeout=CALL_TIMEOUT)
            except (socket.timeout, TimeoutError):
                jobs = [n["params"].get("job") for n in rpc.notifications
                        if n.get("method") == "job.progress"]
                self.tally.problem("hung", t, "no reply in %d s (job %s: %s)"
                                   % (CALL_TIMEOUT, jobs[-1] if jobs else "?",
                                      self.job_status(jobs[-1] if jobs
                                                      else None)))
                return None
            except (EOFError, OSError) as e:
                self.check_agent()
                self.tally.failed(t, "rpc", "the RPC connection broke: %s" % e)
                return None
        finally:
            if fd >= 0:
                os.close(fd)
            rpc.notifications.clear()

    def judge_reply(self, t, reply):
        """Whether the agent reported success; a failure is counted."""
        if "result" in reply:
            job = reply["result"]
            if job.get("state") != "done":
                self.tally.problem("errors", t, "a success reply whose job "
                                   "is %r" % job)
            return True
        err = reply["error"]
        data = err.get("data") or {}
        job = data.get("job") or {}
        self.tally.failed(t, data.get("kind", "?"), "%s (%s attempts)" % (
            err.get("message"), job.get("attempts", "?")))
        return False

    def job_status(self, job):
        if not job:
            return "unknown"
        try:
            r = self.agent.rpc(10)
            try:
                return json.dumps(r.call("job.status", {"job": job}))
            finally:
                r.close()
        except Exception as e:      # noqa: BLE001
            return "job.status failed: %s" % e

    # -- through ftpctl
    def ftpctl(self, *args):
        """(exit status, stderr) of ftpctl ARGS; (None, why) when it did
        not exit in time."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("FTPCTL_PASSWORD", "FTPAGENT_SOCKET")}
        env["HOME"] = self.dirs.ctl_home
        cmd = [FTPCTL, "-S", self.agent.sock, "-q", "--no-autostart",
               "-t", str(CALL_TIMEOUT)] + list(args)
        p = PROCS.add(subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, env=env))
        try:
            _, err = p.communicate(timeout=CALL_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            ftpa.stop_process(p, signal.SIGKILL)
            p.communicate()
            return None, "no exit within %d s" % (CALL_TIMEOUT + 30)
        finally:
            PROCS.remove(p)
        return p.returncode, err.decode("utf-8", "replace").strip()

    def via_ftpctl(self, t):
        if t["dir"] == "get":
            self.ftpctl_get(t)
        else:
            self.ftpctl_put(t)

    def ftpctl_get(self, t):
        """ftpctl get; when it fails, its .part must be a prefix, the
        final name must not exist, and get -c must finish it."""
        local = os.path.join(self.dirs.dl, "%d.bin" % t["i"])
        part = local + ".part"
        rc, err = self.ftpctl("get", "%s:pool/%s" % (t["session"], t["name"]),
                              local)
        try:
            if rc is None:
                self.tally.problem("hung", t, "ftpctl get: " + err)
                return
            if rc == 0:
                check_get(self.tally, t, True, local)
                if os.path.exists(part):
                    self.tally.problem("errors", t, "ftpctl get left "
                                       "its .part behind")
                return
            self.tally.failed(t, "ftpctl exit %d" % rc, err)
            if os.path.exists(local):
                self.tally.problem("bad_partial", t, "ftpctl get failed "
                                   "(%d) but %s exists" % (rc, local))
                return
            check_get(self.tally, t, False, part, err)
            self.ftpctl_resume(t, local)
        finally:
            remove_files(local, part)

    def ftpctl_resume(self, t, local):
        """get -c after a failed ftpctl get: it must finish the file."""
        self.tally.add("resume tried")
        rc, err = self.ftpctl("get", "-c", "%s:pool/%s"
                              % (t["session"], t["name"]), local)
        if rc is None:
            self.tally.problem("hung", t, "ftpctl get -c: " + err)
        elif rc == 0:
            self.tally.add("resume ok")
            if sha256_path(local) != t["sha"]:
                self.tally.problem("corrupted", t, "ftpctl get -c "
                                   "succeeded with a wrong hash")
        else:
            self.tally.add("resume failed")
            self.tally.example("ftpctl get -c", "%s: exit %d: %s"
                               % (t["desc"], rc, err))

    def ftpctl_put(self, t):
        remote = os.path.join(self.dirs.up, "%d.bin" % t["i"])
        rc, err = self.ftpctl("put", t["src"],
                              "%s:up/%d.bin" % (t["session"], t["i"]))
        try:
            if rc is None:
                self.tally.problem("hung", t, "ftpctl put: " + err)
                return
            if rc != 0:
                self.tally.failed(t, "ftpctl exit %d" % rc, err)
            check_put(self.tally, t, rc == 0, remote, err)
        finally:
            remove_files(remote)
