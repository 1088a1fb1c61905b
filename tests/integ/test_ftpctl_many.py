#!/usr/bin/python3
"""ftpctl get of several targets and of globs, put of several files,
mirror --dry-run's plan, and --background for mirror, get -r, put -r
and globs of get, with the detached follower's lifetime (man/ftpctl.1:
get, put, mirror, BACKGROUND JOBS, JSON OUTPUT), against pyftpdlib.

What is asserted is what a user sees: exit status, stdout, stderr, the
files on both sides (sha256) and the server's command log. Every ftpctl
runs with --no-autostart.
"""
import json
import os
import signal
import subprocess
import time
import unittest

import ftpa
from test_tree import MIB, note
from treelocal import snapshot

# the server's /logs and /a.txt
LOGS = {"a.gz": 1000, "b.gz": 2345, "c.txt": 777}
TOP = {"a.txt": 4321}


class CtlManyBase(ftpa.TestCase):
    """An agent, pyftpdlib with /logs/{a.gz,b.gz,c.txt,d.gz/} and /a.txt,
    the session s, and a work directory W."""

    rate = None

    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.work = self.tmpdir()
        self.srv = self.start_pyftpd(events=True, rate=self.rate)
        self.digest = {}
        home = self.srv.home
        os.makedirs(os.path.join(home, "logs", "d.gz"))
        for name, size in LOGS.items():
            self.digest["logs/" + name] = ftpa.make_file(
                os.path.join(home, "logs", name), size)
        for name, size in TOP.items():
            self.digest[name] = ftpa.make_file(os.path.join(home, name), size)
        self.ok(self.ctl("open", "s", self.srv.url(),
                         password=self.srv.password), "open")

    def ctl(self, *args, **kw):
        kw.setdefault("cwd", self.work)
        return self.ftpctl(self.agent, "--no-autostart", *args, **kw)

    def w(self, *rel):
        return os.path.join(self.work, *rel)

    def remote(self, *rel):
        return os.path.join(self.srv.home, *rel)

    def files_in(self, d):
        """{relative path: sha256} of the files beneath d; directories as
        'rel/': None."""
        out = {}
        for rel, (kind, _, _, sha) in snapshot(d).items():
            rel = os.fsdecode(rel)
            out[rel + "/" if kind == "dir" else rel] = sha
        return out

    def rest_offsets(self, mark=0):
        time.sleep(0.2)         # the events log is written as it goes
        return [int(c.split()[1]) for c in self.srv.commands()[mark:]
                if c.upper().startswith("REST ")]

    def job_id(self, res):
        self.ok(res)
        lines = res.text.splitlines()
        self.assertEqual(len(lines), 1, res)
        self.assertRegex(lines[0], r"^j\d+$", res)
        return lines[0]

    def jobs(self):
        return self.ok(self.ctl("--json", "jobs")).json()

    # -- the detached followers
    def _ftpctl_exe(self):
        return os.path.realpath(ftpa.FTPCTL)

    def followers(self):
        """Pids of ftpctl processes of this test (the ftpctl binary, with
        this test's own HOME in their environment), but not the ones
        listed in self.not_followers."""
        exe = self._ftpctl_exe()
        mark = b"HOME=" + os.fsencode(self._home()) + b"\0"
        out = set()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            try:
                if os.path.realpath("/proc/%d/exe" % pid) != exe:
                    continue
                with open("/proc/%d/environ" % pid, "rb") as f:
                    env = f.read() + b"\0"
                with open("/proc/%d/stat" % pid, "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if state == b"Z":
                continue
            if (b"\0" + mark) in b"\0" + env:
                out.add(pid)
        return out - getattr(self, "not_followers", set())

    def assertFollowersGone(self, timeout=5):
        """BACKGROUND JOBS: the follower exits once the tree ended."""
        ftpa.wait_until(lambda: not self.followers(), timeout,
                        what="the follower to exit after its tree ended")

    def reap_followers(self):
        """A cleanup: a follower of this test still there at the end is
        killed by its pid (it is this test's own process)."""
        def stop():
            for pid in self.followers():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.addCleanup(stop)


class CtlManyTest(CtlManyBase):

    # 1
    def test_glob_and_file_into_new_dir(self):
        """get 's:/logs/*.gz' s:/a.txt W/new/: the .gz files (not the
        directory d.gz) and a.txt, made in W/new, no .part."""
        r = self.ctl("get", "s:/logs/*.gz", "s:/a.txt", self.w("new") + "/")
        self.ok(r)
        self.assertEqual(self.files_in(self.w("new")), {
            "a.gz": self.digest["logs/a.gz"],
            "b.gz": self.digest["logs/b.gz"],
            "a.txt": self.digest["a.txt"]}, r)

    # 2
    def test_glob_no_match(self):
        r = self.ctl("get", "s:/logs/*.zip", self.w() + "/")
        self.assertEqual(r.rc, 5, r)
        self.assertIn("s:/logs/*.zip: no match", r.errtext)
        self.assertEqual(os.listdir(self.work), [])

    # 3
    def test_json_several_targets(self):
        r = self.ctl("--json", "get", "s:/logs/*.zip", "s:/logs/*.txt",
                     "s:/nothere", self.w() + "/")
        self.assertEqual(r.rc, 5, r)
        lines = [l for l in r.text.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "not one document: %r" % r.text)
        doc = json.loads(lines[0])
        t = doc["targets"]
        self.assertEqual(len(t), 3, doc)
        self.assertEqual(t[0]["target"], "s:/logs/*.zip", doc)
        self.assertEqual(t[0]["error"]["kind"], "not_found", doc)
        self.assertEqual(t[1]["files"], 1, doc)
        self.assertEqual(t[2]["error"]["kind"], "not_found", doc)
        self.assertEqual(doc["done"], 1, doc)
        self.assertEqual(doc["failed"], 2, doc)
        self.assertTrue(r.errtext.rstrip().endswith("2 of 3 targets failed"),
                        r)
        self.assertEqual(ftpa.sha256_file(self.w("c.txt")),
                         self.digest["logs/c.txt"])

    # 4
    def test_glob_alone_into_cwd(self):
        self.ok(self.ctl("get", "s:/logs/*.txt"))
        self.assertEqual(self.files_in(self.work),
                         {"c.txt": self.digest["logs/c.txt"]})

    # 5
    def test_missing_destination(self):
        r = self.ctl("get", "s:/a.txt", "s:/logs/c.txt", self.w("missing"))
        self.assertEqual(r.rc, 6, r)
        # "DIR: No such file or directory (a directory that is not there
        # yet ends with '/')"
        self.assertIn("missing: No such file or directory", r.errtext, r)
        self.assertIn("ends with '/'", r.errtext, r)
        self.assertFalse(os.path.lexists(self.w("missing")))

    # 6
    def test_glob_is_one_tree_job(self):
        self.ok(self.ctl("get", "s:/logs/*", self.w() + "/"))
        self.assertEqual(sorted(os.listdir(self.work)),
                         ["a.gz", "b.gz", "c.txt"])
        # the agent's own list (job.list): one tree job
        raw = self.ok(self.ctl("call", "job.list")).json()
        raw = raw.get("jobs", raw) if isinstance(raw, dict) else raw
        note("job.list after a glob of 3 files: %r",
             [(j.get("job"), j.get("path"), "tree" in j) for j in raw])
        self.assertEqual(len(raw), 1, raw)
        self.assertIn("tree", raw[0], raw)
        self.assertEqual(raw[0]["tree"]["files"], 3, raw)
        self.assertEqual(raw[0]["state"], "done", raw)
        # and ftpctl --json jobs: the same one job
        jobs = self.jobs()
        self.assertEqual([j["job"] for j in jobs], [raw[0]["job"]], jobs)
        self.assertEqual(jobs[0]["path"], "/logs", jobs)

    # 6, ftpctl's side
    def test_json_jobs_shows_tree(self):
        """ftpctl --json jobs prints job objects "exactly as the agent
        describes them" (JSON OUTPUT): a tree job keeps its tree
        member (once dropped: the library's struct has no room for
        it)."""
        self.ok(self.ctl("get", "s:/logs/*", self.w() + "/"))
        jobs = self.jobs()
        self.assertEqual(len(jobs), 1, jobs)
        self.assertIn("tree", jobs[0], jobs)
        self.assertEqual(jobs[0]["tree"]["files"], 3, jobs)

    # 7
    def test_ascii_with_glob(self):
        r = self.ctl("get", "--ascii", "s:/logs/*.txt", self.w() + "/")
        self.assertEqual(r.rc, 2, r)
        self.assertEqual(os.listdir(self.work), [])

    # 8
    def test_put_several(self):
        p1 = ftpa.make_file(self.w("p1"), 3000)
        p2 = ftpa.make_file(self.w("p2"), 5000)
        self.ok(self.ctl("put", self.w("p1"), self.w("p2"), "s:/logs"))
        self.assertEqual(ftpa.sha256_file(self.remote("logs", "p1")), p1)
        self.assertEqual(ftpa.sha256_file(self.remote("logs", "p2")), p2)

    # 9
    def test_json_put_one_missing(self):
        p1 = ftpa.make_file(self.w("p1"), 3000)
        r = self.ctl("--json", "put", self.w("p1"), self.w("nope"),
                     "s:/logs/")
        self.assertEqual(r.rc, 6, r)
        lines = [l for l in r.text.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "not one document: %r" % r.text)
        doc = json.loads(lines[0])
        self.assertEqual(doc["done"], 1, doc)
        self.assertEqual(doc["failed"], 1, doc)
        self.assertEqual(ftpa.sha256_file(self.remote("logs", "p1")), p1)
        self.assertFalse(os.path.exists(self.remote("logs", "nope")))

    # 10
    def test_json_dry_run(self):
        r = self.ok(self.ctl("--json", "mirror", "--dry-run", "s:/logs",
                             self.w("m")))
        lines = [l for l in r.text.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "not one document: %r" % r.text)
        doc = json.loads(lines[0])
        self.assertIs(doc["dry_run"], True, doc)
        items = doc["items"]
        self.assertTrue([i for i in items if i.get("action") == "get"
                         and i.get("path") == "a.gz"], items)
        self.assertTrue([i for i in items if i.get("action") == "mkdir"
                         and i.get("path") == "d.gz"], items)
        got = {(i["action"], i["path"]) for i in items}
        self.assertEqual(got, {("get", "a.gz"), ("get", "b.gz"),
                               ("get", "c.txt"), ("mkdir", "d.gz")}, items)
        a = [i for i in items if i["path"] == "a.gz"][0]
        self.assertEqual(a.get("size"), LOGS["a.gz"], a)
        self.assertFalse(os.path.lexists(self.w("m")))

    # 11
    def test_dry_run_lines(self):
        r = self.ok(self.ctl("mirror", "--dry-run", "s:/logs", self.w("m")))
        self.assertEqual(set(r.text.splitlines()),
                         {"get a.gz", "get b.gz", "get c.txt", "mkdir d.gz"},
                         r)
        self.assertEqual(len(r.text.splitlines()), 4, r)
        self.assertFalse(os.path.lexists(self.w("m")))

    # 12
    def test_mirror_background(self):
        self.reap_followers()
        job = self.job_id(self.ctl("mirror", "--background", "s:/logs",
                                   self.w("m")))
        r = self.ctl("wait", job)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.files_in(self.w("m")), {
            "a.gz": self.digest["logs/a.gz"],
            "b.gz": self.digest["logs/b.gz"],
            "c.txt": self.digest["logs/c.txt"], "d.gz/": None})
        self.assertFollowersGone()

    # 13
    def test_get_r_background_json(self):
        self.reap_followers()
        r = self.ok(self.ctl("--json", "get", "-r", "--background",
                             "s:/logs", self.w("m2")))
        doc = r.json()
        self.assertIsInstance(doc, dict, r)
        self.assertRegex(doc.get("job", ""), r"^j\d+$", doc)
        w = self.ctl("--json", "wait", doc["job"])
        self.assertEqual(w.rc, 0, w)
        self.assertEqual(w.json()["state"], "done", w)
        self.assertEqual(self.files_in(self.w("m2")), {
            "a.gz": self.digest["logs/a.gz"],
            "b.gz": self.digest["logs/b.gz"],
            "c.txt": self.digest["logs/c.txt"], "d.gz/": None})
        self.assertFollowersGone()

    # 14
    def test_glob_background(self):
        self.reap_followers()
        job = self.job_id(self.ctl("get", "--background", "s:/logs/*.gz",
                                   self.w("m3") + "/"))
        r = self.ctl("wait", job)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.files_in(self.w("m3")), {
            "a.gz": self.digest["logs/a.gz"],
            "b.gz": self.digest["logs/b.gz"]})
        self.assertFollowersGone()

    # 15
    def test_put_r_background(self):
        self.reap_followers()
        src = self.w("src")
        os.makedirs(os.path.join(src, "sub", "deeper"))
        os.makedirs(os.path.join(src, "empty"))
        for rel, size in (("x.bin", 70000), ("sub/y.txt", 10),
                          ("sub/deeper/z.bin", 200000), ("zero", 0)):
            ftpa.make_file(os.path.join(src, rel), size)
        job = self.job_id(self.ctl("put", "-r", "--background", src,
                                   "s:/up"))
        r = self.ctl("wait", job)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.files_in(self.remote("up")),
                         self.files_in(src))
        self.assertFollowersGone()

    # 17
    def test_get_r_background_missing(self):
        self.reap_followers()
        job = self.job_id(self.ctl("get", "-r", "--background",
                                   "s:/nothere", self.w("x")))
        r = self.ctl("wait", job)
        self.assertEqual(r.rc, 5, r)
        self.assertFollowersGone()


class CtlFollowerTest(CtlManyBase):
    """16: the detached follower of a background tree, against a slow
    server (5 MiB/s per data connection)."""

    rate = 5 * MIB

    def big(self, size=40 * MIB):
        os.makedirs(self.remote("src"))
        self.big_sha = ftpa.make_file(self.remote("src", "big.bin"), size)
        ftpa.make_file(self.remote("src", "small.txt"), 100)
        self.size = size

    def wait_part(self, part, at_least=1 * MIB):
        ftpa.wait_until(lambda: os.path.exists(part)
                        and os.path.getsize(part) >= at_least, 60,
                        what="%s to reach %d bytes" % (part, at_least))

    def job_state(self, job):
        for j in self.jobs():
            if j.get("job") == job:
                return j.get("state")
        return None

    # 16a
    def test_cancel_background_mirror_then_resume(self):
        self.reap_followers()
        self.big()
        self.not_followers = self.followers()
        job = self.job_id(self.ctl("mirror", "--background", "s:/src",
                                   self.w("dst")))
        part = self.w("dst", "big.bin.part")
        self.wait_part(part)
        running = self.followers()
        note("followers while the mirror runs: %r", running)
        self.assertTrue(running, "no follower process found")
        self.ok(self.ctl("cancel", job))
        ftpa.wait_until(lambda: self.job_state(job) == "cancelled", 10,
                        what="the job to end cancelled")
        r = self.ctl("wait", job)
        self.assertEqual(r.rc, 8, r)
        ftpa.wait_until(lambda: not self.followers(), 5,
                        what="the follower to exit after cancel")
        self.assertTrue(os.path.exists(part), "no big.bin.part left")
        self.assertFalse(os.path.exists(self.w("dst", "big.bin")))
        size = os.path.getsize(part)
        self.assertGreater(size, 0)
        self.assertLess(size, self.size)
        mark = len(self.srv.commands())
        self.ok(self.ctl("mirror", "s:/src", self.w("dst"), timeout=120))
        rests = [n for n in self.rest_offsets(mark) if n]
        note("cancelled at %d bytes; REST after: %r", size, rests)
        self.assertIn(size, rests)
        self.assertEqual(ftpa.sha256_file(self.w("dst", "big.bin")),
                         self.big_sha)
        self.assertFalse(os.path.exists(part))

    # 16b
    def test_agent_killed_follower_exits(self):
        self.check_agent_exit = False       # killed with SIGKILL
        self.reap_followers()
        self.big()
        self.not_followers = self.followers()
        self.job_id(self.ctl("mirror", "--background", "s:/src",
                             self.w("dst")))
        self.wait_part(self.w("dst", "big.bin.part"))
        self.assertTrue(self.followers(), "no follower process found")
        os.kill(self.agent.pid, signal.SIGKILL)
        self.agent.proc.wait(10)
        t0 = time.monotonic()
        ftpa.wait_until(lambda: not self.followers(), 5,
                        what="the follower to exit after the agent's death")
        note("follower gone %.2f s after the agent's SIGKILL",
             time.monotonic() - t0)
        self.assertFalse(os.path.exists(self.w("dst", "big.bin")))

    # 16c
    def test_background_returns_with_pipes(self):
        self.reap_followers()
        self.big()
        cmd = [ftpa.FTPCTL, "-S", self.agent.sock, "--no-autostart",
               "mirror", "--background", "s:/src", self.w("dst")]
        env = {k: v for k, v in os.environ.items()
               if k not in ("FTPCTL_PASSWORD", "FTPAGENT_SOCKET")}
        env["HOME"] = self._home()
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, env=env,
                               cwd=self.work, stdin=subprocess.DEVNULL,
                               timeout=10)
        except subprocess.TimeoutExpired as ex:
            self.fail("mirror --background with stdout and stderr as pipes "
                      "did not return within 10 s (stdout %r)" % ex.stdout)
        took = time.monotonic() - t0
        note("mirror --background returned in %.2f s", took)
        self.assertEqual(p.returncode, 0, p)
        self.assertRegex(p.stdout.decode(), r"^j\d+\n$")
        self.assertLess(took, 10)
        # the transfer is still going on (it is slow): not finished early
        job = p.stdout.decode().strip()
        self.assertEqual(self.job_state(job), "running")
        self.ok(self.ctl("cancel", job))


if __name__ == "__main__":
    ftpa.main()
