#!/usr/bin/python3
"""ftpctl's background transfers and job commands against a real agent
and pyftpdlib: get/put --background, jobs, wait, cancel, and the
connections column of sessions (issue 5); jobs filters, its LOCAL
column and the cut of finished jobs, the agent's job_retention_max, and
wait of several jobs (issue 17)."""
import inspect
import json
import os
import re
import subprocess
import time

import ftpa

PASSWORD = "Pw-jobs-4711"
MIB = 1 << 20
JOB_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def make_big_file(path, size):
    """A large file made fast: sparse, with random bytes at both ends.
    Returns its sha256."""
    with open(path, "wb") as f:
        f.write(os.urandom(MIB))
        os.truncate(f.fileno(), size - MIB)
        f.seek(size - MIB)
        f.write(os.urandom(MIB))
    return ftpa.sha256_file(path)


class JobsTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.work = self.tmpdir()

    def start(self, rate=None, conf=None):
        """pyftpdlib (limited to rate bytes/s per transfer when the
        helpers can), the agent (with the configuration text conf) and
        session "s"."""
        kw = {}
        if rate and "rate" in inspect.signature(
                self.start_pyftpd).parameters:
            kw["rate"] = rate
        self.slow = "rate" in kw
        self.srv = self.start_pyftpd(user="user", password=PASSWORD, **kw)
        extra = []
        if conf is not None:
            path = os.path.join(self.tmpdir(), "agent.conf")
            with open(path, "w") as f:
                f.write(conf)
            extra = ["-c", path]
        self.agent = self.start_agent(extra=extra)
        self.ok(self.ctl("open", "s", self.srv.url(), password=PASSWORD),
                "open")

    def ctl(self, *args, **kw):
        return self.ftpctl(self.agent, *args, **kw)

    def local(self, name):
        return os.path.join(self.work, name)

    def remote_file(self, name, size):
        """A file on the server; its sha256."""
        return ftpa.make_file(os.path.join(self.srv.home, name), size)

    def long_remote_file(self, name):
        """A file whose download lasts seconds: throttled when the server
        can be, else 1 GiB."""
        if self.slow:
            return self.remote_file(name, 8 * MIB)
        return make_big_file(os.path.join(self.srv.home, name), 1024 * MIB)

    def background(self, *args):
        r = self.ok(self.ctl(*args))
        job = r.text.strip()
        self.assertRegex(job, JOB_ID, r)
        return job

    def job_of(self, job):
        jobs = self.ok(self.ctl("--json", "jobs")).json()
        found = [j for j in jobs if j["job"] == job]
        self.assertEqual(len(found), 1, jobs)
        return found[0]

    def test_get_background_wait(self):
        self.start()
        digest = self.remote_file("f.bin", 5 * MIB)
        dst = self.local("f.bin")
        job = self.background("get", "--background", "s:/f.bin", dst)

        listed = self.ok(self.ctl("jobs"))
        rows = [l.split() for l in listed.text.splitlines()]
        self.assertEqual(rows[0][:3], ["JOB", "STATE", "DIR"], listed)
        row = [r for r in rows if r[0] == job]
        self.assertEqual(len(row), 1, listed)
        self.assertIn(row[0][1], ("queued", "running", "done"))
        self.assertEqual(row[0][2], "get")
        self.assertTrue(row[0][-2].endswith("s:/f.bin"), listed)
        # where it lands: the .part the agent writes, until renamed
        self.assertIn(row[0][-1], (dst + ".part", dst))

        r = self.ok(self.ctl("wait", job))
        self.assertEqual(r.out, b"")
        # the follower renamed the .part before wait returned
        self.assertTrue(os.path.exists(dst))
        self.assertFalse(os.path.exists(dst + ".part"))
        self.assertEqual(ftpa.sha256_file(dst), digest)

        j = self.job_of(job)
        self.assertEqual(j["state"], "done")
        self.assertEqual(j["direction"], "get")
        self.assertEqual(j["bytes"], 5 * MIB)
        self.assertEqual(j["total"], 5 * MIB)
        self.assertEqual(j["path"], "/f.bin")
        self.assertIsNone(j["error"])
        # waiting for an ended job answers at once, in JSON too
        w = self.ok(self.ctl("--json", "wait", job)).json()
        self.assertEqual(w["job"], job)
        self.assertEqual(w["state"], "done")

    def test_get_background_json_and_stdout(self):
        self.start()
        digest = self.remote_file("g.bin", 100000)
        dst = self.local("g.bin")
        doc = self.ok(self.ctl("--json", "get", "--background", "s:/g.bin",
                               dst)).json()
        self.assertRegex(doc["job"], JOB_ID)
        self.assertEqual(doc["local"], dst)
        self.assertEqual(doc["remote"], "/g.bin")
        self.ok(self.ctl("wait", doc["job"]))
        self.assertEqual(ftpa.sha256_file(dst), digest)
        r = self.ctl("get", "--background", "s:/g.bin", "-")
        self.assertEqual(r.rc, 2, r)

    def test_put_background(self):
        self.start()
        src = self.local("up.bin")
        digest = ftpa.make_file(src, 3 * MIB)
        job = self.background("put", "--background", src, "s:/up.bin")
        self.ok(self.ctl("wait", job))
        self.assertEqual(ftpa.sha256_file(
            os.path.join(self.srv.home, "up.bin")), digest)
        self.assertEqual(self.job_of(job)["direction"], "put")
        # from a pipe on stdin: the agent reads it after ftpctl is gone
        data = os.urandom(200000)
        r = self.ok(self.ctl("put", "--background", "-", "s:/pipe.bin",
                             input=data))
        self.ok(self.ctl("wait", r.text.strip()))
        with open(os.path.join(self.srv.home, "pipe.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_cancel_running(self):
        self.start(rate=MIB)
        self.long_remote_file("big.bin")
        dst = self.local("big.bin")
        job = self.background("get", "--background", "s:/big.bin", dst)
        ftpa.wait_until(lambda: self.job_of(job)["bytes"] > 0, 30,
                        what="the download to start")
        self.ok(self.ctl("cancel", job))
        r = self.ctl("wait", job)
        self.assertEqual(r.rc, 8, r)
        self.assertIn(job, r.errtext)
        j = self.job_of(job)
        self.assertEqual(j["state"], "cancelled")
        self.assertEqual(j["error"]["data"]["kind"], "cancelled")
        # what came stays in the .part, for get -c; nothing at dst
        self.assertFalse(os.path.exists(dst))
        self.assertTrue(os.path.exists(dst + ".part"))
        self.assertGreater(os.path.getsize(dst + ".part"), 0)
        self.assertLess(os.path.getsize(dst + ".part"),
                        os.path.getsize(os.path.join(self.srv.home,
                                                     "big.bin")))
        doc = self.ok(self.ctl("--json", "cancel", job)).json()
        self.assertEqual(doc["job"], job)
        w = self.ctl("--json", "wait", job)
        self.assertEqual(w.rc, 8, w)
        self.assertEqual(w.json()["state"], "cancelled")

    def test_resume_after_cancel(self):
        self.start(rate=4 * MIB)
        digest = self.long_remote_file("r.bin")
        dst = self.local("r.bin")
        job = self.background("get", "--background", "s:/r.bin", dst)
        ftpa.wait_until(lambda: self.job_of(job)["bytes"] > 0, 30,
                        what="the download to start")
        self.ok(self.ctl("cancel", job))
        self.assertEqual(self.ctl("wait", job).rc, 8)
        have = os.path.getsize(dst + ".part")
        job = self.background("get", "-c", "--background", "s:/r.bin", dst)
        self.ok(self.ctl("wait", job))
        self.assertEqual(ftpa.sha256_file(dst), digest)
        size = os.path.getsize(os.path.join(self.srv.home, "r.bin"))
        self.assertEqual(self.job_of(job)["bytes"], size - have)

    def test_unknown_job_and_usage(self):
        self.start()
        r = self.ctl("wait", "j999999")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("j999999", r.errtext)
        self.assertEqual(self.ctl("cancel", "j999999").rc, 1)
        self.assertEqual(self.ctl("wait").rc, 2)
        self.assertEqual(self.ctl("jobs", "x").rc, 2)
        doc = self.ctl("--json", "wait", "j999999")
        self.assertEqual(doc.json()["error"]["kind"], "no_job")

    def test_failed_job_status(self):
        self.start()
        dst = self.local("missing.bin")
        job = self.background("get", "--background", "s:/missing.bin", dst)
        r = self.ctl("wait", job)
        self.assertEqual(r.rc, 5, r)        # not found, like a foreground get
        self.assertEqual(self.job_of(job)["state"], "failed")
        self.assertFalse(os.path.exists(dst))
        # nothing came: no empty .part either (wait waits for that too)
        self.assertFalse(os.path.exists(dst + ".part"))

    def test_json_is_the_wire(self):
        """ftpctl --json prints the job and entry objects exactly as the
        agent's replies carry them (protocol/wire.c writes both)."""
        self.start()
        self.remote_file("ok.bin", 1000)
        os.mkdir(os.path.join(self.srv.home, "d"))
        with open(os.path.join(self.srv.home, "d", "n\u00e9 e"), "wb") as f:
            f.write(b"x")
        done = self.background("get", "--background", "s:/ok.bin",
                               self.local("ok.bin"))
        failed = self.background("get", "--background", "s:/missing.bin",
                                 self.local("missing.bin"))
        self.ok(self.ctl("wait", done))
        self.assertEqual(self.ctl("wait", failed).rc, 5)
        wire = {j["job"]: j for j in
                self.ok(self.ctl("call", "job.list")).json()}
        cli = {j["job"]: j for j in
               self.ok(self.ctl("--json", "jobs")).json()}
        for job in (done, failed):
            self.assertEqual(cli[job], wire[job])
            status = self.ok(self.ctl("call", "job.status",
                                      json.dumps({"job": job}))).json()
            if job == done:
                self.assertEqual(
                    self.ok(self.ctl("--json", "wait", job)).json(), status)
            self.assertEqual(cli[job], status)
        self.assertEqual(wire[failed]["error"]["data"]["kind"], "not_found")
        self.assertIn("code", wire[failed]["error"])
        self.assertIsNone(wire[done]["error"])
        listing = self.ok(self.ctl("call", "fs.list", json.dumps(
            {"session": "s", "path": "/d"}))).json()
        cli_ls = self.ok(self.ctl("--json", "ls", "s:/d")).json()
        self.assertEqual(cli_ls["entries"], listing["entries"])
        self.assertEqual(len(listing["entries"]), 1)
        self.assertEqual(listing["entries"][0]["name"], "n\u00e9 e")
        stat = self.ok(self.ctl("call", "fs.stat", json.dumps(
            {"session": "s", "path": "/ok.bin"}))).json()
        self.assertEqual(self.ok(self.ctl("--json", "stat", "s:/ok.bin"))
                         .json(), stat)

    def test_sessions_connections(self):
        self.start()
        r = self.ok(self.ctl("sessions"))
        lines = r.text.splitlines()
        head = lines[0].split()
        self.assertIn("CONNS", head)
        row = [l for l in lines[1:] if l.startswith("s ")]
        self.assertEqual(len(row), 1, r)
        info = [s for s in self.ok(self.ctl("--json", "sessions")).json()
                if s["session"] == "s"][0]
        if "max_connections" in info:
            self.assertIn("%d/%d" % (info.get("busy", 0),
                                     info["max_connections"]), row[0])

    # -- issue 17: filters, LOCAL, retention, wait of several
    def table(self, *args):
        """jobs' text rows (header first), split on blanks."""
        r = self.ok(self.ctl("jobs", *args))
        return r, [l.split() for l in r.text.splitlines()]

    def test_jobs_local_column(self):
        """Five gets of the same remote name are told apart by where they
        land."""
        self.start()
        self.remote_file("same.txt", 5000)
        dirs = [self.local("d%d" % i) for i in range(5)]
        jobs = []
        for d in dirs:
            os.mkdir(d)
            jobs.append(self.background("get", "--background", "s:/same.txt",
                                        os.path.join(d, "same.txt")))
        self.ok(self.ctl("wait", *jobs))
        r, rows = self.table()
        self.assertEqual(rows[0][-2:], ["PATH", "LOCAL"], r)
        local = {row[0]: row[-1] for row in rows[1:]}
        for job, d in zip(jobs, dirs):
            # where the file is now: renamed from the .part the agent wrote
            self.assertEqual(local[job], os.path.join(d, "same.txt"), r)
        self.assertEqual(len(set(local[j] for j in jobs)), 5, r)
        docs = {j["job"]: j for j in self.ok(self.ctl("--json", "jobs"))
                .json()}
        for job, d in zip(jobs, dirs):
            # the agent renamed the .part it wrote: the name it has now
            self.assertEqual(docs[job]["local"],
                             os.path.join(d, "same.txt"), docs[job])
        # a pipe has no name: "-" and null
        r = self.ok(self.ctl("--json", "put", "--background", "-",
                             "s:/p.bin", input=b"x" * 100))
        pjob = r.json()["job"]
        self.ok(self.ctl("wait", pjob))
        self.assertIsNone(self.job_of(pjob)["local"])
        r, rows = self.table()
        self.assertEqual([row[-1] for row in rows if row[0] == pjob], ["-"])

    def test_jobs_filters(self):
        self.start(rate=MIB)
        self.remote_file("ok.bin", 1000)
        self.remote_file("slow.bin", 4 * MIB)
        done = self.background("get", "--background", "s:/ok.bin",
                               self.local("ok.bin"))
        failed = self.background("get", "--background", "s:/missing.bin",
                                 self.local("missing.bin"))
        self.ok(self.ctl("wait", done))
        self.assertEqual(self.ctl("wait", failed).rc, 5)
        running = self.background("get", "--background", "s:/slow.bin",
                                  self.local("slow.bin"))
        self.addCleanup(self.ctl, "cancel", running)

        def ids(*args):
            return sorted(j["job"] for j in
                          self.ok(self.ctl("--json", "jobs", *args)).json())
        self.assertEqual(ids(), sorted([done, failed, running]))
        self.assertEqual(ids("--running"), [running])
        self.assertEqual(ids("--failed"), [failed])
        self.assertEqual(ids("--since", "1h"), sorted([done, failed,
                                                      running]))
        # only what was still going after that time
        self.assertEqual(ids("--since", "@%d" % (time.time() + 3600)),
                         [running])
        self.assertEqual(ids("--since", "2000-01-01"),
                         sorted([done, failed, running]))
        self.assertEqual(ids("--running", "--failed"), [])
        r, rows = self.table("--failed")
        self.assertEqual([row[0] for row in rows[1:]], [failed], r)
        self.assertEqual(rows[1][1], "failed")
        for bad in (["--since", "yesterday"], ["--since"], ["--bogus"],
                    ["x"]):
            r = self.ctl("jobs", *bad)
            self.assertEqual(r.rc, 2, r)
            self.assertTrue(r.errtext.startswith("ftpctl: "), r)

    def test_jobs_cut_after_a_batch(self):
        """After a batch, jobs shows the running ones and the last
        finished, and says how many more there are."""
        self.start()
        names = ["b%02d" % i for i in range(14)]
        for n in names:
            self.remote_file(n, 100)
        os.mkdir(self.local("batch"))
        self.ok(self.ctl("get", *["s:/" + n for n in names],
                         self.local("batch") + "/"))
        r, rows = self.table()
        self.assertEqual(len(rows), 1 + 10 + 1, r)
        self.assertEqual(r.text.splitlines()[-1],
                         "... and 4 more finished jobs (ftpctl jobs --all)")
        r, rows = self.table("--all")
        self.assertEqual(len(rows), 1 + 14, r)
        self.assertNotIn("more finished", r.text)
        self.assertEqual(len(self.ok(self.ctl("--json", "jobs")).json()), 14)
        # -q: the rows only
        r = self.ok(self.ctl("-q", "jobs"))
        self.assertEqual(len(r.text.splitlines()), 10, r)

    def test_retention_max(self):
        """The agent keeps at most job_retention_max finished jobs per
        uid: the ones that ended first are forgotten."""
        self.start(conf="job_retention_max = 3\n")
        names = ["k%d" % i for i in range(6)]
        jobs = []
        for n in names:
            self.remote_file(n, 100)
            jobs.append(self.background("get", "--background", "s:/" + n,
                                        self.local(n)))
            self.ok(self.ctl("wait", jobs[-1]))
        ftpa.wait_until(lambda: len(self.ok(self.ctl("--json", "jobs"))
                                    .json()) == 3, 10,
                        what="the agent to forget the oldest jobs")
        kept = sorted(j["job"] for j in
                      self.ok(self.ctl("--json", "jobs")).json())
        self.assertEqual(kept, sorted(jobs[3:]))
        r = self.ctl("wait", jobs[0])
        self.assertEqual(r.rc, 1, r)
        self.assertIn("no job", r.errtext)

    def test_wait_several(self):
        self.start(rate=MIB)
        for n in ("a.bin", "b.bin"):
            self.remote_file(n, 1000)
        a = self.background("get", "--background", "s:/a.bin",
                            self.local("a.bin"))
        b = self.background("get", "--background", "s:/b.bin",
                            self.local("b.bin"))
        r = self.ok(self.ctl("wait", a, b))
        self.assertEqual(r.out, b"")
        # both renamed before wait returned
        self.assertTrue(os.path.exists(self.local("a.bin")))
        self.assertTrue(os.path.exists(self.local("b.bin")))
        docs = self.ok(self.ctl("--json", "wait", a, b)).json()
        self.assertEqual([d["job"] for d in docs], [a, b])
        self.assertEqual([d["state"] for d in docs], ["done", "done"])
        # the worst of them: a cancel over done, a failure over both
        self.remote_file("slow.bin", 8 * MIB)
        slow = self.background("get", "--background", "s:/slow.bin",
                               self.local("slow.bin"))
        self.ok(self.ctl("cancel", slow))
        r = self.ctl("wait", a, slow)
        self.assertEqual(r.rc, 8, r)
        self.assertIn(slow, r.errtext)
        failed = self.background("get", "--background", "s:/missing.bin",
                                 self.local("missing.bin"))
        r = self.ctl("wait", slow, failed, a)
        self.assertEqual(r.rc, 5, r)
        self.assertIn(failed, r.errtext)
        # an unknown job is reported, the others still waited for
        r = self.ctl("--json", "wait", a, "j999999")
        self.assertEqual(r.rc, 1, r)
        docs = r.json()
        self.assertEqual(docs[0]["job"], a)
        self.assertEqual(docs[1]["error"]["kind"], "no_job")

    def test_wait_all(self):
        self.start(rate=MIB)
        self.remote_file("w1.bin", 1000)
        done = self.background("get", "--background", "s:/w1.bin",
                               self.local("w1.bin"))
        self.ok(self.ctl("wait", done))
        # nothing running: at once, an empty list
        self.assertEqual(self.ok(self.ctl("--json", "wait", "--all"))
                         .json(), [])
        self.remote_file("w2.bin", 2 * MIB)
        self.remote_file("w3.bin", MIB)
        j2 = self.background("get", "--background", "s:/w2.bin",
                             self.local("w2.bin"))
        j3 = self.background("get", "--background", "s:/w3.bin",
                             self.local("w3.bin"))
        docs = self.ok(self.ctl("--json", "wait", "--all")).json()
        self.assertEqual(sorted(d["job"] for d in docs), sorted([j2, j3]))
        self.assertEqual([d["state"] for d in docs], ["done", "done"])
        self.assertTrue(os.path.exists(self.local("w2.bin")))
        self.assertTrue(os.path.exists(self.local("w3.bin")))
        r = self.ctl("wait", "--all", done)
        self.assertEqual(r.rc, 2, r)


class FakeAgentTest(ftpa.TestCase):
    """ftpctl wait against tests/integ/fakeagent.py: with events, and as
    an agent that has none (it must then poll job.status)."""

    FAKE = os.path.join(ftpa.HERE, "fakeagent.py")
    FILE_DATA = bytes(range(256)) * 40          # the fake's "/second"

    def start_fake(self, *opts):
        sock = os.path.join(self.tmpdir(), "fake.sock")
        proc = subprocess.Popen([ftpa.PYTHON, self.FAKE] + list(opts) +
                                ["-S", sock], stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self._track(proc, "fakeagent")
        ftpa.wait_until(lambda: os.path.exists(sock), 15,
                        what="fakeagent to listen")
        return sock

    def follow(self, *opts):
        sock = self.start_fake(*opts)
        dst = os.path.join(self.tmpdir(), "second.bin")
        r = self.ok(self.ftpctl(sock, "get", "--background", "s1:/second",
                                dst))
        job = r.text.strip()
        w = self.ok(self.ftpctl(sock, "--json", "wait", job))
        self.assertEqual(w.json()["state"], "done")
        self.assertEqual(w.json()["bytes"], len(self.FILE_DATA))
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), self.FILE_DATA)
        # a cancelled one: exit 8
        job = self.ok(self.ftpctl(sock, "get", "--background", "s1:/slow",
                                  dst + ".2")).text.strip()
        self.ok(self.ftpctl(sock, "cancel", job))
        self.assertEqual(self.ftpctl(sock, "wait", job).rc, 8)
        # a failed one: the error's status (1: the server refused)
        job = self.ok(self.ftpctl(sock, "get", "--background", "s1:/fail",
                                  dst + ".3")).text.strip()
        r = self.ftpctl(sock, "wait", job)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("426 Connection closed", r.errtext)

    def test_wait_with_events(self):
        self.follow()

    def test_wait_without_events(self):
        self.follow("--no-events")


if __name__ == "__main__":
    ftpa.main()
