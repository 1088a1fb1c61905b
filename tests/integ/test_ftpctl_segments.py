#!/usr/bin/python3
"""ftpctl get -n N (issue 18): segmented downloads against vsftpd and
pyftpdlib. A file comes whole and byte for byte over N connections, each
with its own REST and RETR (the first range starts at 0, without REST);
a smaller file gets fewer ranges (at least 1 MiB each); -n 1 is a plain
get; several targets and globs are each file a segmented get; the
background form ends with the file in place (the follower renames it:
the agent renames no segmented download); what does not go with -n is a
usage error before anything starts; a missing file leaves neither the
file nor a .part. A segmented download that stops (^C, ftpctl or the
agent killed) leaves LOCAL.segments.part, which ends with the agent's
record of its ranges: get -c continues each range where it stopped,
never taking the holes of unfinished ranges for data (a segmented part
is no prefix of the file, so it is never LOCAL.part).

The agent's side on the wire (params refused, ranges, retries) is
tests/integ/test_segments.py's."""
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import ftpa
from test_segments_resume import read_record

KIB = 1024
MIB = 1 << 20
BIG = 9 * MIB + 12345       # 4 ranges of about 2.25 MiB


def starts(size, n):
    """Where the agent's n ranges of a size-byte file start."""
    return [size * i // n for i in range(n)]


class Segments:
    """What the vsftpd and pyftpdlib cases share; a mixin of
    ftpa.TestCase. self.srv is the server, "s" its session."""

    def start(self):
        self.work = self.tmpdir()
        self.agent = self.start_agent()
        self.ok(self.ctl("open", "s", self.srv.url("/"),
                         password=self.srv.password), "open s")

    def ctl(self, *args, **kw):
        kw.setdefault("cwd", self.work)
        return self.ftpctl(self.agent, *args, **kw)

    def here(self, *names):
        return os.path.join(self.work, *names)

    def remote(self, name, size):
        """A file on the server; its sha256."""
        path = os.path.join(self.srv.home, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return ftpa.make_file(path, size)

    def retrs(self, name, since):
        """The offsets the RETRs of name started at since mark, sorted:
        the REST before each on its connection (0 without one)."""
        out, rest = [], {}
        for conn, line in self.commands()[since:]:
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "REST":
                rest[conn] = int(arg)
            elif verb in ("RETR", "STOR", "APPE", "LIST", "NLST", "MLSD"):
                if verb == "RETR" and (arg == name or
                                       arg.endswith("/" + name)):
                    out.append(rest.get(conn, 0))
                rest.pop(conn, None)
        return sorted(out)

    def mark(self):
        return len(self.commands())

    def assertNoFile(self, path):
        self.assertFalse(os.path.exists(path), path)
        self.assertFalse(os.path.exists(path + ".part"), path + ".part")

    def get_segmented(self, n, size, name="big.bin"):
        """get -n n of a size-byte file: identical, no .part left; the
        offsets its RETRs started at."""
        digest = self.remote(name, size)
        mark = self.mark()
        dst = self.here(name)
        self.ok(self.ctl("get", "-n", n, "s:/" + name, dst))
        self.assertEqual(ftpa.sha256_file(dst), digest)
        self.assertFalse(os.path.exists(dst + ".part"))
        return self.retrs(name, mark)


class SegmentCases(Segments):
    """The cases both servers run."""

    def test_four_ranges(self):
        """9 MiB and some: 4 RETRs, from 4 different offsets, one job."""
        self.assertEqual(self.get_segmented(4, BIG), starts(BIG, 4))
        jobs = self.ok(self.ctl("--json", "jobs")).json()
        self.assertEqual(len(jobs), 1, jobs)
        self.assertEqual(jobs[0]["state"], "done", jobs)
        self.assertEqual((jobs[0]["bytes"], jobs[0]["total"]), (BIG, BIG))

    def test_small_file_fewer_ranges(self):
        """2.5 MiB with -n 4: ranges of 1 MiB at least, so 2."""
        size = 5 * MIB // 2
        self.assertEqual(self.get_segmented(4, size), starts(size, 2))

    def test_one_is_plain(self):
        """-n 1 is an ordinary get: one RETR, no REST."""
        self.assertEqual(self.get_segmented(1, BIG), [0])


class VsftpdSegments(SegmentCases, ftpa.TestCase):
    """Against vsftpd, which logs every command it reads."""

    def setUp(self):
        super().setUp()
        self.srv = self.start_vsftpd(extra_conf=["log_ftp_protocol=YES"])
        self.start()

    def commands(self):
        """(connection, command line) as vsftpd logged them."""
        out = []
        try:
            with open(self.srv.log, encoding="utf-8",
                      errors="replace") as f:
                for line in f:
                    m = re.search(r'\[pid (\d+)\].*FTP command: Client '
                                  r'"[^"]*", "(.*)"$', line.rstrip("\n"))
                    if m:
                        out.append((m.group(1), m.group(2)))
        except FileNotFoundError:
            pass
        return out

    def test_usage_errors(self):
        """What does not go with -n: exit 2, said why, nothing started."""
        self.remote("u.bin", 3 * MIB)
        src = self.here("up.bin")
        ftpa.make_file(src, 1000)
        mark = self.mark()
        cases = [
            (("put", "-n", "2", src, "s:/up.bin"), "is for get"),
            (("put", "--segments=2", src, "s:/up.bin"), "is for get"),
            (("get", "-n", "0", "s:/u.bin"), "1 to 16"),
            (("get", "-n", "17", "s:/u.bin"), "1 to 16"),
            (("get", "--segments", "4x", "s:/u.bin"), "1 to 16"),
            (("get", "-n", "", "s:/u.bin"), "1 to 16"),
            (("get", "-n", "2", "--ascii", "s:/u.bin"), "binary"),
            (("get", "-r", "-n", "2", "s:/", "tree"), "-r moves a tree"),
        ]
        for args, said in cases:
            with self.subTest(args=args):
                r = self.ctl(*args)
                self.assertEqual(r.rc, 2, r)
                self.assertIn(said, r.errtext)
        self.assertNoFile(self.here("u.bin"))
        self.assertFalse(os.path.exists(self.here("tree")))
        self.assertEqual([c for _, c in self.commands()[mark:]
                          if c.split()[0].upper() in ("RETR", "STOR")], [])
        self.assertEqual(self.ok(self.ctl("--json", "jobs")).json(), [])

    def test_continue_with_nothing_there(self):
        """get -c -n 2 with nothing local yet: a segmented download from
        the start, as without -c."""
        digest = self.remote("c.bin", BIG)
        mark = self.mark()
        self.ok(self.ctl("get", "-c", "-n", "2", "s:/c.bin", "c.bin"))
        self.assertEqual(ftpa.sha256_file(self.here("c.bin")), digest)
        self.assertEqual(self.retrs("c.bin", mark), starts(BIG, 2))
        self.assertEqual(sorted(os.listdir(self.work)), ["c.bin"])

    def test_missing_file(self):
        """A file that is not there: not_found (5), nothing left."""
        r = self.ctl("get", "-n", "4", "s:/nope.bin", "got.bin")
        self.assertEqual(r.rc, 5, r)
        self.assertNoFile(self.here("got.bin"))
        r = self.ctl("get", "-n", "4", "s:/", "got.bin")
        self.assertEqual(r.rc, 5, r)
        self.assertIn("is a directory", r.errtext)
        self.assertNoFile(self.here("got.bin"))

    def test_background(self):
        """--background -n 3: the job id at once; wait returns with the file in
        place, renamed by the follower."""
        digest = self.remote("bg.bin", BIG)
        mark = self.mark()
        r = self.ok(self.ctl("get", "--background", "-n", "3", "s:/bg.bin",
                             "bg.bin"))
        job = r.text.strip()
        self.assertRegex(job, r"^[A-Za-z0-9._-]+$")
        self.ok(self.ctl("wait", job))
        self.assertEqual(ftpa.sha256_file(self.here("bg.bin")), digest)
        self.assertFalse(os.path.exists(self.here("bg.bin.part")))
        self.assertFalse(os.path.exists(self.here("bg.bin.segments.part")))
        self.assertEqual(self.retrs("bg.bin", mark), starts(BIG, 3))
        # the agent wrote bg.bin.segments.part; jobs shows where the file
        # is now
        row = [ln for ln in self.ok(self.ctl("jobs")).text.splitlines()
               if ln.startswith(job + " ")]
        self.assertEqual(len(row), 1, row)
        self.assertTrue(row[0].endswith(self.here("bg.bin")), row)

    def test_background_fails_leaves_nothing(self):
        """--background -n 2 of a missing file: the job fails, and the follower
        leaves no .part."""
        r = self.ok(self.ctl("get", "--background", "-n", "2", "s:/no.bin",
                             "no.bin"))
        r = self.ctl("wait", r.text.strip())
        self.assertEqual(r.rc, 5, r)
        ftpa.wait_until(lambda: not os.path.exists(self.here("no.bin.part")),
                        10, what="the .part removed")
        self.assertNoFile(self.here("no.bin"))

    def test_several_targets(self):
        """get -n 4 A B DIR/: each a segmented get of its own."""
        da = self.remote("a.bin", BIG)
        db = self.remote("b.bin", 4 * MIB)
        mark = self.mark()
        self.ok(self.ctl("get", "-n", "4", "s:/a.bin", "s:/b.bin", "dir/"))
        self.assertEqual(ftpa.sha256_file(self.here("dir", "a.bin")), da)
        self.assertEqual(ftpa.sha256_file(self.here("dir", "b.bin")), db)
        self.assertEqual(self.retrs("a.bin", mark), starts(BIG, 4))
        self.assertEqual(self.retrs("b.bin", mark), starts(4 * MIB, 4))
        self.assertEqual(len(self.ok(self.ctl("--json", "jobs")).json()), 2)

    def test_glob(self):
        """get -n 2 'DIR/*.bin' listed by ftpctl: every matching file a
        segmented get, the others (and a dot file, a directory) not."""
        want = {"x.bin": 3 * MIB, "y.bin": 2 * MIB + 1, "z.bin": 1000}
        digests = {n: self.remote("g/" + n, s) for n, s in want.items()}
        self.remote("g/skip.txt", 5000)
        self.remote("g/.hidden.bin", 5000)
        os.makedirs(os.path.join(self.srv.home, "g", "d.bin"))
        mark = self.mark()
        r = self.ok(self.ctl("get", "-n", "2", "s:/g/*.bin", "out/"))
        self.assertEqual(sorted(os.listdir(self.here("out"))), sorted(want))
        for n, d in digests.items():
            self.assertEqual(ftpa.sha256_file(self.here("out", n)), d, n)
        self.assertEqual(self.retrs("x.bin", mark), starts(3 * MIB, 2))
        self.assertEqual(self.retrs("y.bin", mark), starts(2 * MIB + 1, 2))
        self.assertEqual(self.retrs("z.bin", mark), [0])
        self.assertEqual(r.errtext, "")
        # in the background: a job each, all done with the files in place
        r = self.ok(self.ctl("get", "--background", "-n", "2", "s:/g/*.bin",
                             "bg/"))
        jobs = r.text.split()
        self.assertEqual(len(jobs), 3, r)
        self.ok(self.ctl("wait", *jobs))
        for n, d in digests.items():
            self.assertEqual(ftpa.sha256_file(self.here("bg", n)), d, n)
        self.assertEqual(sorted(os.listdir(self.here("bg"))), sorted(want))
        # nothing matches: not_found, as without -n
        r = self.ctl("get", "-n", "2", "s:/g/*.iso", "out/")
        self.assertEqual(r.rc, 5, r)
        self.assertIn("no match", r.errtext)

    def test_json_several(self):
        """--json of several targets: one document, a result per file."""
        self.remote("j1.bin", 2 * MIB)
        self.remote("j2.bin", 2 * MIB)
        r = self.ok(self.ctl("--json", "get", "-n", "2", "s:/j1.bin",
                             "s:/j2.bin", "jd/"))
        doc = r.json()
        self.assertEqual((doc["done"], doc["failed"]), (2, 0), doc)
        self.assertEqual([t["bytes"] for t in doc["targets"]],
                         [2 * MIB, 2 * MIB], doc)

    def test_stdout(self):
        """- into a regular file is written at offsets (segmented); into
        a pipe, or appended to, it goes over one connection."""
        digest = self.remote("o.bin", BIG)
        out = self.here("stdout.bin")
        for how, mode, n in (("file", "wb", 4), ("append", "ab", 1)):
            mark = self.mark()
            if os.path.exists(out):
                os.unlink(out)
            with open(out, mode) as f:
                p = subprocess.run([ftpa.FTPCTL, "-S", self.agent.sock, "get",
                                    "-n", "4", "s:/o.bin", "-"], stdout=f,
                                   stderr=subprocess.PIPE, timeout=120,
                                   env=dict(os.environ, HOME=self._home()))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(ftpa.sha256_file(out), digest, how)
            self.assertEqual(len(self.retrs("o.bin", mark)), n, how)
        mark = self.mark()
        r = self.ok(self.ctl("get", "-n", "4", "s:/o.bin", "-"))
        self.assertEqual(ftpa.sha256_bytes(r.out), digest)
        self.assertEqual(self.retrs("o.bin", mark), [0])


class PyftpdSegments(SegmentCases, ftpa.TestCase):
    """Against pyftpdlib, which says what it read (commands())."""

    def setUp(self):
        super().setUp()
        self.srv = self.start_pyftpd(events=True)
        self.start()

    def commands(self):
        """(connection, command line) as pyftpdlib read them."""
        return [(tuple(e["peer"]), e["line"])
                for e in self.srv.events("cmd")]


class PyftpdSlowSegments(Segments, ftpa.TestCase):
    """A throttled pyftpdlib (256 KiB/s a data connection): ^C while the
    ranges run."""

    def setUp(self):
        super().setUp()
        self.srv = self.start_pyftpd(events=True, rate=256 * KIB)
        self.start()

    def commands(self):
        """(connection, command line) as pyftpdlib read them."""
        return [(tuple(e["peer"]), e["line"])
                for e in self.srv.events("cmd")]

    def get_running(self, n, name):
        """ftpctl get -n n of s:/name into name, once its n ranges have
        started (and it still runs): its Popen, output in pipes."""
        env = dict(os.environ, HOME=self._home())
        env.pop("FTPAGENT_SOCKET", None)
        proc = subprocess.Popen([ftpa.FTPCTL, "-S", self.agent.sock, "get",
                                 "-n", str(n), "s:/" + name, name],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env,
                                cwd=self.work)
        self._track(proc, "ftpctl")
        ftpa.wait_until(lambda: len(self.retrs(name, 0)) == n, 30,
                        what="%d ranges running" % n)
        time.sleep(0.5)
        self.assertIsNone(proc.poll(), "ftpctl ended before the signal")
        return proc

    def test_sigint_cancels(self):
        """SIGINT during get -n 4 (8 s a range): exit 8, the job
        cancelled at the agent, no file and no .part, but the
        .segments.part with the record of the 4 ranges."""
        self.remote("slow.bin", 8 * MIB)
        proc = self.get_running(4, "slow.bin")
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 8, (out, err))
        self.assertIn(b"cancelled", err)
        self.assertNoFile(self.here("slow.bin"))

        def cancelled():
            jobs = self.ok(self.ctl("--json", "jobs")).json()
            return [j for j in jobs if j["state"] == "cancelled"] == jobs \
                and jobs
        ftpa.wait_until(cancelled, 10, what="the job cancelled")
        # the ranges' data connections were closed: the server says so
        ftpa.wait_until(lambda: len(self.srv.events("incomplete_sent")) == 4,
                        10, what="4 incomplete sends")
        # nothing writes to a name of ours afterwards
        time.sleep(0.5)
        self.assertEqual(sorted(os.listdir(self.work)),
                         ["slow.bin.segments.part"])
        size, _, ranges = read_record(self.here("slow.bin.segments.part"))
        self.assertEqual((size, [r[0] for r in ranges]),
                         (8 * MIB, starts(8 * MIB, 4)))

    def resumed(self, name, size, digest, *args, sock=None):
        """After a segmented get of name stopped: the .segments.part's
        record, then get -c (with args) continuing it: it ends byte for
        byte, each unfinished range fetched from where it stopped, and
        only what was missing moved."""
        part = self.here(name + ".segments.part")
        self.assertEqual(sorted(os.listdir(self.work)),
                         [name + ".segments.part"])
        rsize, _, ranges = read_record(part)
        self.assertEqual(rsize, size)
        missing = sum(e - d for _, d, e in ranges)
        self.assertLess(missing, size, ranges)
        mark = self.mark()
        cmd = ("get", "-c") + args + ("s:/" + name, name)
        if sock:
            r = self.ok(self.ftpctl(sock, "--json", *cmd, cwd=self.work))
        else:
            r = self.ok(self.ctl("--json", *cmd))
        self.assertEqual(ftpa.sha256_file(self.here(name)), digest)
        self.assertEqual(sorted(os.listdir(self.work)), [name])
        self.assertEqual(self.retrs(name, mark),
                         sorted(d for _, d, e in ranges if d < e))
        self.assertEqual(r.json()["bytes"], missing, r.json())

    def test_sigkill_then_resume(self):
        """ftpctl killed (SIGKILL) during get -n 2: no .part is left, the
        .segments.part is, and get -c (without -n) continues its ranges,
        never taking their holes for data."""
        digest = self.remote("k.bin", 2 * MIB)
        proc = self.get_running(2, "k.bin")
        time.sleep(1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)

        def settled():
            jobs = self.ok(self.ctl("--json", "jobs")).json()
            return jobs and all(j["state"] != "running" for j in jobs)
        ftpa.wait_until(settled, 30, what="the job ended")
        self.resumed("k.bin", 2 * MIB, digest)

    def test_agent_killed_then_resume(self):
        """The agent killed (SIGKILL) during get -n 2: ftpctl fails, the
        .segments.part stays with the record the agent last wrote (at
        most half a second old), and get -c -n 2 through a new agent
        continues it."""
        self.check_agent_exit = False       # killed with SIGKILL
        digest = self.remote("a.bin", 2 * MIB)
        proc = self.get_running(2, "a.bin")
        time.sleep(1.5)
        os.kill(self.agent.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        self.assertNotEqual(proc.returncode, 0, (out, err))
        agent = self.start_agent()
        self.ok(self.ftpctl(agent, "open", "s", self.srv.url("/"),
                            password=self.srv.password, cwd=self.work))
        self.resumed("a.bin", 2 * MIB, digest, "-n", "2", sock=agent)

    def test_progress_bar(self):
        """The bar in a terminal (tmux) is the whole file's: percentages
        that only grow, and a rate above what one connection may move
        (256 KiB/s here), so the ranges' bytes are summed."""
        if shutil.which("tmux") is None:
            self.skipTest("tmux is not installed (Debian package tmux)")
        from test_progress_tty import BAR, Tmux
        digest = self.remote("bar.bin", 4 * MIB)    # 4 ranges, 4 s
        script = os.path.join(self.work, "run.sh")
        with open(script, "w") as f:
            f.write("cd %s\nexport HOME=%s\n%s -S %s get -n 4 s:/bar.bin "
                    "bar.bin\necho DONE rc=$?\nexec sleep 600\n"
                    % (shlex.quote(self.work), shlex.quote(self.work),
                       shlex.quote(ftpa.FTPCTL),
                       shlex.quote(self.agent.sock)))
        tmux = Tmux(self, script)
        percents, rates = [], []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = tmux.capture()
            for line in text.splitlines():
                if BAR.search(line) and "bar.bin" in line:
                    percents.append(int(re.search(r"(\d+)%", line)
                                        .group(1)))
                    m = re.search(r"([\d.]+) ?([KMG]?)i?B/s", line)
                    rates.append(float(m.group(1)) * 1024 **
                                 " KMG".index(m.group(2) or " "))
            if "DONE rc=" in text:
                break
            time.sleep(0.05)
        self.assertIn("DONE rc=0", text)
        self.assertEqual(ftpa.sha256_file(self.here("bar.bin")), digest)
        self.assertTrue([p for p in percents if 0 < p < 100], percents)
        self.assertEqual(percents, sorted(percents))
        self.assertGreater(max(rates), 2 * 256 * KIB, rates)
        self.assertNotIn("ETA", text)


if __name__ == "__main__":
    ftpa.main()
