#!/usr/bin/python3
"""ftpctl mirror, get -r and put -r as a user runs them (issue 16;
man/ftpctl.1), against pyftpdlib, vsftpd (skipped without root and
/usr/sbin/vsftpd) and ftpmock's tree_retr_fail (tests/ftpmock_tree.py).

What is asserted is what a user sees: the exit status, stdout (the dry
run's plan, the --json summary), stderr (failures, the progress line on
a real terminal through tmux), the files on both sides (sha256, mtime)
and the servers' command logs (pyftpd_server.py --events, the agent's -v
log for vsftpd, ftpmock's log). Every ftpctl runs with --no-autostart,
so that no agent is started behind a test's back.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import ftpa
import ftpmock_tree
from test_tree import MIB, SAMPLE, files_of, dirs_of, make_sample, note
from treelocal import snapshot

MOCK_PW = "mockpw"

# man/ftpctl.1, EXIT STATUS: the status of an error kind
KIND_EXIT = {"ftp": 1, "permission": 1, "limit": 1, "protocol": 1,
             "connect": 4, "tls": 4, "auth": 4, "not_found": 5,
             "local_io": 6, "timeout": 7, "cancelled": 8}
SUMMARY_KEYS = ("job", "state", "remote", "local", "files", "files_total",
                "dirs", "skipped", "deleted", "failed", "bytes", "dry_run",
                "failures")
# the tree's progress line: "N/M files" ("N/M+ files" while walking)
TREE_LINE = re.compile(r"(\d+)/(\d+)(\+?) files")


class CtlTreeBase(ftpa.TestCase):
    """An agent, a working directory, and ftpctl in it."""

    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.work = self.tmpdir()

    def ctl(self, *args, **kw):
        kw.setdefault("cwd", self.work)
        return self.ftpctl(self.agent, "--no-autostart", *args, **kw)

    def spawn(self, *args):
        """ftpctl ARGS running in the background (stdout, stderr pipes),
        stopped by pid at the end of the test."""
        cmd = [ftpa.FTPCTL, "-S", self.agent.sock, "--no-autostart"]
        cmd += [str(a) for a in args]
        env = {k: v for k, v in os.environ.items()
               if k not in ("FTPCTL_PASSWORD", "FTPAGENT_SOCKET")}
        env["HOME"] = self._home()
        p = subprocess.Popen(cmd, cwd=self.work, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, start_new_session=True)
        self._track(p, "ftpctl")
        return p

    def open_s(self, srv, name="s", *opts):
        self.ok(self.ctl("open", *opts, name, srv.url(),
                         password=srv.password or MOCK_PW), "open")

    def here(self, *rel):
        return os.path.join(os.fsencode(self.work),
                            *[os.fsencode(r) for r in rel])

    def summary(self, res, state="done"):
        """The --json summary of a tree command, checked for its keys."""
        doc = res.json()
        self.assertIsInstance(doc, dict, res)
        for k in SUMMARY_KEYS:
            self.assertIn(k, doc, doc)
        for k in ("files", "files_total", "dirs", "skipped", "deleted",
                  "failed", "bytes"):
            self.assertIsInstance(doc[k], int, (k, doc))
        self.assertEqual(doc["state"], state, doc)
        self.assertRegex(doc["job"], r"^j\d+$")
        return doc

    def assertSameTree(self, src, dst, times=True):
        """Every file and directory of src is in dst (nothing else),
        files byte for byte, and with the same mtime when times."""
        a, b = snapshot(src), snapshot(dst)
        self.assertEqual(sorted(a), sorted(b), "different entries")
        for rel, (kind, _, mtime, sha) in a.items():
            self.assertEqual(b[rel][0], kind, rel)
            if kind == "file":
                self.assertEqual(b[rel][3], sha, "content of %r" % rel)
                if times:
                    self.assertEqual(b[rel][2], mtime, "mtime of %r" % rel)

    def assertNoPart(self, root):
        self.assertEqual([r for r in snapshot(root) if r.endswith(b".part")],
                         [], "NAME.part files left")

    def assertPrefixOf(self, part, whole):
        """The file part holds the first bytes of the file whole."""
        n = os.path.getsize(part)
        with open(whole, "rb") as f:
            head = f.read(n)
        self.assertEqual(ftpa.sha256_file(part), ftpa.sha256_bytes(head),
                         "%s is not a prefix of %s" % (part, whole))
        return n


class ServerCtlTrees:
    """ftpctl trees against a real server; subclasses give server(),
    mark(srv) and commands_since(srv, mark)."""

    byte_names = True

    def remote(self, srv, *rel):
        return os.path.join(os.fsencode(srv.home),
                            *[os.fsencode(r) for r in rel])

    def owner(self, srv):
        st = os.stat(srv.home)
        return st.st_uid, st.st_gid

    def sample_on_server(self, srv, sub="src", entries=SAMPLE):
        root = self.remote(srv, sub)
        os.makedirs(root)
        return root, make_sample(root, self.byte_names, self.owner(srv),
                                 entries)

    def chown_tree(self, srv, root):
        uid, gid = self.owner(srv)
        for d, dirs, files in os.walk(root):
            for n in [d] + [os.path.join(d, f) for f in dirs + files]:
                os.lchown(n, uid, gid)

    def verbs(self, srv, mark, *verbs):
        return [c for c in self.commands_since(srv, mark)
                if c.split(" ")[0].upper() in verbs]

    def server_ready(self):
        srv = self.server()
        self.open_s(srv)
        return srv

    # -- mirror: download
    def test_mirror_tree(self):
        """mirror s:/src dst: every file byte-identical with its mtime,
        empty directories made, names with spaces and a name that is not
        UTF-8; exit 0; the --json summary counts it all."""
        srv = self.server_ready()
        src, sample = self.sample_on_server(srv)
        r = self.ok(self.ctl("--json", "mirror", "s:/src", "dst"))
        doc = self.summary(r)
        files = files_of(sample)
        self.assertEqual(doc["files"], len(files), doc)
        self.assertEqual(doc["files_total"], len(files), doc)
        self.assertEqual(doc["dirs"], len(dirs_of(sample)) + 1, doc)
        self.assertEqual(doc["failed"], 0, doc)
        self.assertEqual(doc["failures"], [], doc)
        self.assertEqual(doc["deleted"], 0, doc)
        self.assertIs(doc["dry_run"], False, doc)
        self.assertEqual(doc["bytes"], sum(s for s in sample.values() if s))
        self.assertEqual(doc["remote"], "/src", doc)
        self.assertEqual(doc["local"], "dst", doc)
        self.assertEqual(r.errtext, "", "stderr is not a terminal: no "
                         "progress line")
        self.assertSameTree(src, self.here("dst"))
        self.assertNoPart(self.here("dst"))
        if self.byte_names:
            self.assertTrue(os.path.isfile(self.here("dst", b"caf\xe9.bin")))
        self.assertTrue(os.path.isdir(self.here("dst", "dir one/sub/empty2")))
        # and without --json: nothing on stdout, exit 0
        r = self.ok(self.ctl("mirror", "s:/src", "dst2"))
        self.assertEqual(r.out, b"", r)
        self.assertSameTree(src, self.here("dst2"))

    def test_second_mirror_transfers_nothing(self):
        srv = self.server_ready()
        src, sample = self.sample_on_server(srv)
        self.ok(self.ctl("mirror", "s:/src", "dst"))
        before = snapshot(self.here("dst"))
        mark = self.mark(srv)
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "s:/src",
                                            "dst")))
        self.assertEqual(doc["files"], 0, doc)
        self.assertEqual(doc["bytes"], 0, doc)
        self.assertEqual(doc["skipped"], len(files_of(sample)), doc)
        self.assertEqual(self.verbs(srv, mark, "RETR"), [])
        self.assertEqual(snapshot(self.here("dst")), before)

    # -- mirror -R, then back
    def test_mirror_R_round_trip(self):
        """mirror -R ./src s:/up (made on the server), then mirror s:/up
        ./back: the same bytes, names and mtimes three times over."""
        srv = self.server_ready()
        local = self.here("src")
        sample = make_sample(local, self.byte_names)
        r = self.ok(self.ctl("--json", "mirror", "-R", "src", "s:/up"))
        doc = self.summary(r)
        self.assertEqual(doc["files"], len(files_of(sample)), doc)
        self.assertEqual(doc["remote"], "/up", doc)
        self.assertSameTree(local, self.remote(srv, "up"))
        self.ok(self.ctl("mirror", "s:/up", "back"))
        self.assertSameTree(local, self.here("back"))
        # and again: nothing to send
        mark = self.mark(srv)
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "-R", "src",
                                            "s:/up")))
        self.assertEqual(doc["files"], 0, doc)
        self.assertEqual(self.verbs(srv, mark, "STOR", "APPE"), [])

    def test_mirror_R_resumes_a_cut_upload(self):
        """An upload cut short leaves a shorter file on the server, newer
        than the local one: mirror -R goes on from its end (REST), the
        bytes there not sent again. A shorter file older than the local
        one is another file: sent again whole."""
        srv = self.server_ready()
        os.makedirs(self.here("src"))
        data = os.urandom(300000)
        for n in ("cut.bin", "old.bin"):
            with open(self.here("src", n), "wb") as f:
                f.write(data)
            os.utime(self.here("src", n), (1500000000, 1500000000))
        up = self.remote(srv, "up")
        os.makedirs(up)
        with open(os.path.join(up, b"cut.bin"), "wb") as f:
            f.write(data[:100000])
        with open(os.path.join(up, b"old.bin"), "wb") as f:
            f.write(b"x" * 100000)
        os.utime(os.path.join(up, b"old.bin"), (1400000000, 1400000000))
        self.chown_tree(srv, up)
        mark = self.mark(srv)
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "-R", "src",
                                            "s:/up")))
        self.assertEqual(doc["files"], 2, doc)
        self.assertSameTree(self.here("src"), up)
        self.assertEqual(self.verbs(srv, mark, "REST"), ["REST 100000"])
        self.assertEqual(len(self.verbs(srv, mark, "STOR")), 2)
        # what moved: old.bin whole, the rest of cut.bin
        self.assertEqual(doc["bytes"], 300000 + 200000, doc)

    # -- --delete, --dry-run
    def test_delete_and_dry_run(self):
        srv = self.server_ready()
        src, sample = self.sample_on_server(srv)
        self.ok(self.ctl("mirror", "s:/src", "dst"))
        dst = self.here("dst")
        extra = [b"extra.txt", b"dir one/sub/extra2.txt", b"gone dir"]
        for rel in extra[:2]:
            with open(os.path.join(dst, rel), "wb") as f:
                f.write(b"not on the server")
        os.makedirs(os.path.join(dst, b"gone dir/deeper"))
        with open(os.path.join(dst, b"gone dir/deeper/f"), "wb") as f:
            f.write(b"x")
        os.unlink(os.path.join(dst, b"a.txt"))        # to be fetched again
        before = snapshot(dst)
        mark = self.mark(srv)
        r = self.ok(self.ctl("mirror", "--delete", "--dry-run", "s:/src",
                             "dst"))
        self.assertEqual(snapshot(dst), before, "the dry run changed "
                         "the local tree")
        self.assertEqual(self.verbs(srv, mark, "RETR"), [])
        plan = set(r.out.splitlines())
        for rel in extra:
            self.assertIn(b"delete " + rel, plan, r)
        self.assertIn(b"get a.txt", plan, r)
        for line in plan:
            self.assertRegex(line, rb"^(get|put|mkdir|delete|skip) \S", r)
        self.assertFalse([l for l in plan if l.startswith(b"get ")
                          and l != b"get a.txt"], r)
        # --json with --dry-run: the summary says so, no plan lines
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "--delete",
                                            "--dry-run", "s:/src", "dst")))
        self.assertIs(doc["dry_run"], True, doc)
        self.assertEqual(snapshot(dst), before)
        # now for real
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "--delete",
                                            "s:/src", "dst")))
        self.assertGreaterEqual(doc["deleted"], len(extra), doc)
        self.assertEqual(doc["files"], 1, doc)
        for rel in extra:
            self.assertFalse(os.path.lexists(os.path.join(dst, rel)), rel)
        self.assertSameTree(src, dst)
        # without --delete nothing local is removed
        with open(os.path.join(dst, b"keep.txt"), "wb") as f:
            f.write(b"mine")
        self.ok(self.ctl("mirror", "s:/src", "dst"))
        self.assertTrue(os.path.exists(os.path.join(dst, b"keep.txt")))

    def test_newer_only(self):
        """A local copy that differs and is newer than the server's:
        --newer-only leaves it, a plain mirror replaces it."""
        srv = self.server_ready()
        src, _ = self.sample_on_server(srv, entries=[
            (b"same.txt", 100), (b"changed.txt", 200)])
        self.ok(self.ctl("mirror", "s:/src", "dst"))
        mine = self.here("dst", "changed.txt")
        with open(mine, "ab") as f:
            f.write(b"local edit")
        mine_sha = ftpa.sha256_file(mine)
        doc = self.summary(self.ok(self.ctl("--json", "mirror",
                                            "--newer-only", "s:/src", "dst")))
        self.assertEqual(doc["files"], 0, doc)
        self.assertEqual(ftpa.sha256_file(mine), mine_sha)
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "s:/src",
                                            "dst")))
        self.assertEqual(doc["files"], 1, doc)
        self.assertSameTree(src, self.here("dst"))

    # -- --exclude, --include
    def test_exclude_include(self):
        srv = self.server_ready()
        src, sample = self.sample_on_server(srv, entries=SAMPLE + [
            (b"logs", None), (b"logs/a.gz", 100), (b"logs/b.gz", 200),
            (b"logs/c.txt", 300), (b"logs/old", None),
            (b"logs/old/d.gz", 400), (b"top.gz", 50)])

        def got(dst):
            s = snapshot(self.here(dst))
            for rel, v in s.items():
                if v[0] == "file":
                    self.assertEqual(v[3], ftpa.sha256_file(
                        os.path.join(src, rel)), rel)
            return {r for r, v in s.items() if v[0] == "file"}
        everything = files_of(sample)
        self.ok(self.ctl("mirror", "--exclude", "*.gz", "--exclude", "sub",
                         "s:/src", "d1"))
        self.assertEqual(got("d1"), {r for r in everything
                                     if not r.endswith(b".gz")
                                     and not r.startswith(b"dir one/sub/")})
        self.assertFalse(os.path.exists(self.here("d1", "dir one", "sub")))
        self.ok(self.ctl("mirror", "--include", "*.gz", "s:/src", "d2"))
        self.assertEqual(got("d2"), {b"logs/a.gz", b"logs/b.gz",
                                     b"logs/old/d.gz", b"top.gz"})
        # a glob with "/" is matched against the path ("*" not across "/")
        self.ok(self.ctl("mirror", "--include", "logs/*.gz", "s:/src",
                         "d3"))
        self.assertEqual(got("d3"), {b"logs/a.gz", b"logs/b.gz"})
        self.ok(self.ctl("mirror", "--include", "*.gz", "--exclude", "old",
                         "s:/src", "d4"))
        self.assertEqual(got("d4"), {b"logs/a.gz", b"logs/b.gz", b"top.gz"})
        if self.byte_names:
            # a glob that is not UTF-8 matches the name's bytes
            self.ok(self.ctl("mirror", "--include", b"caf\xe9*", "s:/src",
                             "d5"))
            self.assertEqual(got("d5"), {b"caf\xe9.bin"})
            self.ok(self.ctl("mirror", "--exclude", b"*\xe9*", "s:/src",
                             "d6"))
            self.assertEqual(got("d6"), everything - {b"caf\xe9.bin"})

    # -- -P
    def test_parallel_1_and_4(self):
        srv = self.server_ready()
        entries = [(b"f%02d.bin" % i, 20000 + i * 1000) for i in range(24)]
        entries += [(b"sub", None)] + [(b"sub/g%02d.bin" % i, 5000)
                                       for i in range(8)]
        src, sample = self.sample_on_server(srv, entries=entries)
        for n in ("1", "4"):
            with self.subTest(parallel=n):
                doc = self.summary(self.ok(self.ctl(
                    "--json", "mirror", "-P", n, "s:/src", "p" + n)))
                self.assertEqual(doc["files"], len(files_of(sample)), doc)
                self.assertSameTree(src, self.here("p" + n))
                self.assertNoPart(self.here("p" + n))
        for bad in ("0", "17", "x"):
            r = self.ctl("mirror", "-P", bad, "s:/src", "bad")
            self.assertEqual(r.rc, 2, (bad, r))
            self.assertFalse(os.path.exists(self.here("bad")), bad)

    # -- get -r, put -r
    def test_get_r_and_put_r(self):
        srv = self.server_ready()
        src, sample = self.sample_on_server(srv)
        nfiles = len(files_of(sample))
        # without DIR: the remote directory's last name, here
        r = self.ok(self.ctl("get", "-r", "s:/src"))
        self.assertEqual(r.out, b"", r)
        self.assertSameTree(src, self.here("src"))
        doc = self.summary(self.ok(self.ctl("--json", "get", "-r", "s:/src",
                                            "out")))
        self.assertEqual(doc["files"], nfiles, doc)
        self.assertSameTree(src, self.here("out"))
        # get -r transfers every file, also the ones already there
        mark = self.mark(srv)
        doc = self.summary(self.ok(self.ctl("--json", "get", "-r", "s:/src",
                                            "out")))
        self.assertEqual(doc["files"], nfiles, doc)
        self.assertEqual(len(self.verbs(srv, mark, "RETR")), nfiles)
        self.assertSameTree(src, self.here("out"))
        self.assertNoPart(self.here("out"))
        # put -r
        doc = self.summary(self.ok(self.ctl("--json", "put", "-r", "out",
                                            "s:/put")))
        self.assertEqual(doc["files"], nfiles, doc)
        self.assertSameTree(src, self.remote(srv, "put"))
        # usage errors: exit 2
        self.assertEqual(self.ctl("put", "-r", "out").rc, 2)
        self.assertEqual(self.ctl("get", "-r", "s:/").rc, 2)
        # a missing remote directory: exit 5
        r = self.ctl("get", "-r", "s:/nope", "nope")
        self.assertEqual(r.rc, 5, r)


class PyftpdCtlTreeTest(ServerCtlTrees, CtlTreeBase):
    """pyftpdlib: MLSD, MFMT; names that are not UTF-8 as bytes."""

    def server(self, **kw):
        kw.setdefault("byte_names", True)
        return self.start_pyftpd(events=True, **kw)

    def mark(self, srv):
        return len(srv.commands())

    def commands_since(self, srv, mark):
        time.sleep(0.2)         # the events log is written as it goes
        return srv.commands()[mark:]

    def test_dry_run_makes_no_local_directory(self):
        """--dry-run changes nothing, so it does not make dst either."""
        srv = self.server_ready()
        self.sample_on_server(srv)
        r = self.ok(self.ctl("mirror", "--dry-run", "s:/src", "newdir"))
        self.assertIn(b"get a.txt", r.out.splitlines(), r)
        self.assertFalse(os.path.lexists(self.here("newdir")),
                         "mirror --dry-run made the local directory")

    def test_link_to_a_parent_does_not_loop(self):
        """pyftpdlib's MLSD shows a link to a parent as a directory: the
        mirror ends soon, the tree's own files arrive, and no directory
        inside itself is copied level after level."""
        srv = self.server_ready()
        src, sample = self.sample_on_server(srv, entries=[
            (b"a.txt", 100), (b"d", None), (b"d/b.txt", 200)])
        os.symlink("..", os.path.join(src, b"d", b"up"))
        os.symlink(".", os.path.join(src, b"self"))
        t0 = time.monotonic()
        r = self.ctl("--json", "mirror", "s:/src", "dst", timeout=60)
        took = time.monotonic() - t0
        depth = max([rel.count(b"/") for rel in snapshot(self.here("dst"))]
                    or [0])
        note("mirror of a tree with links to parents: exit %s in %.1f s, "
             "%d levels, %r", r.rc, took, depth, r.text[:300])
        self.ok(r)
        for rel, size in ((b"a.txt", 100), (b"d/b.txt", 200)):
            self.assertEqual(ftpa.sha256_file(self.here("dst", rel)),
                             ftpa.sha256_file(os.path.join(src, rel)), rel)
        self.assertLessEqual(depth, 3, "the walk went %d levels deep"
                             % depth)
        self.assertLess(took, 30)

    # -- resumption
    def big_tree(self, srv, size=50 * MIB):
        src = self.remote(srv, "src")
        os.makedirs(os.path.join(src, b"sub"))
        digest = ftpa.make_file(os.path.join(src, b"big.bin"), size)
        for i in range(5):
            ftpa.make_file(os.path.join(src, b"sub", b"s%d.txt" % i), 1000)
        return src, digest

    def wait_part(self, proc, part, at_least):
        def grown():
            if proc.poll() is not None:
                self.fail("ftpctl ended before the test's kill: %s %r"
                          % (proc.returncode, proc.communicate()))
            return (os.path.exists(part)
                    and os.path.getsize(part) >= at_least)
        ftpa.wait_until(grown, 60, what="%s to reach %d bytes"
                        % (part, at_least))

    def test_resume_after_agent_killed(self):
        """The agent is killed (SIGKILL) mid-file: big.bin.part stays;
        a new agent on the same socket, the session opened again, mirror
        again: completes, the big file resumed with REST at the .part's
        size, everything byte-identical."""
        self.check_agent_exit = False     # the first agent dies of SIGKILL
        srv = self.server(rate=5 * MIB)
        src, digest = self.big_tree(srv)
        self.open_s(srv)
        proc = self.spawn("mirror", "s:/src", "dst")
        part = self.here("dst", "big.bin.part")
        self.wait_part(proc, part, 5 * MIB)
        os.kill(self.agent.pid, signal.SIGKILL)
        self.agent.proc.wait(10)
        out, err = proc.communicate(timeout=30)
        note("ftpctl after the agent's SIGKILL: exit %s, stderr %r",
             proc.returncode, err[-300:])
        self.assertEqual(proc.returncode, 3, err)   # the agent hung up
        self.assertFalse(os.path.exists(self.here("dst", "big.bin")))
        size = self.assertPrefixOf(part, os.path.join(src, b"big.bin"))
        self.assertGreater(size, 0)
        self.assertLess(size, 50 * MIB)
        old = self.agent
        self.agent = self.start_agent(sockdir=os.path.dirname(old.sock))
        self.assertEqual(self.agent.sock, old.sock)
        self.open_s(srv)
        mark = self.mark(srv)
        r = self.ok(self.ctl("--json", "mirror", "s:/src", "dst"))
        doc = self.summary(r)
        self.assertIn("REST %d" % size, self.commands_since(srv, mark))
        self.assertEqual(ftpa.sha256_file(self.here("dst", "big.bin")),
                         digest)
        self.assertSameTree(src, self.here("dst"))
        self.assertNoPart(self.here("dst"))
        note("resumed at %d of %d bytes; second mirror moved %d bytes",
             size, 50 * MIB, doc["bytes"])
        self.assertLessEqual(doc["bytes"], 50 * MIB - size + 5 * 1000)
        rc, killed = ftpa.stop_process(self.agent.proc)
        self.assertEqual((rc, killed), (0, False))

    def test_interrupt_cancels_then_resumes(self):
        """SIGINT to a running mirror: exit 8, the big file's .part
        stays (a prefix), nothing under its final name; mirror again
        resumes it with REST."""
        srv = self.server(rate=5 * MIB)
        src, digest = self.big_tree(srv, size=30 * MIB)
        self.open_s(srv)
        proc = self.spawn("--json", "mirror", "s:/src", "dst")
        part = self.here("dst", "big.bin.part")
        self.wait_part(proc, part, 3 * MIB)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        note("mirror after SIGINT: exit %s, stdout %r, stderr %r",
             proc.returncode, out[-300:], err[-200:])
        self.assertEqual(proc.returncode, 8, (out, err))
        docs = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(docs[0].get("state"), "cancelled", out)
        self.assertFalse(os.path.exists(self.here("dst", "big.bin")))
        time.sleep(0.5)
        size = self.assertPrefixOf(part, os.path.join(src, b"big.bin"))
        self.assertGreater(size, 0)
        # the agent goes on serving; the tree job is cancelled
        jobs = self.ok(self.ctl("--json", "jobs")).json()
        self.assertTrue([j for j in jobs if j.get("path") == "/src"
                         and j.get("state") == "cancelled"], jobs)
        mark = self.mark(srv)
        self.ok(self.ctl("mirror", "s:/src", "dst"))
        self.assertIn("REST %d" % size, self.commands_since(srv, mark))
        self.assertEqual(ftpa.sha256_file(self.here("dst", "big.bin")),
                         digest)
        self.assertSameTree(src, self.here("dst"))
        self.assertNoPart(self.here("dst"))
        self.assertEqual(len(docs), 1, "--json printed %d documents: %r"
                         % (len(docs), out))

    def test_json_is_one_document_when_the_tree_fails(self):
        """JSON OUTPUT: each command prints one JSON document. A tree
        whose root is missing prints it once (the summary or the
        error), exit 5."""
        srv = self.server_ready()
        for cmd in (["get", "-r", "s:/nope", "x"],
                    ["mirror", "s:/nope", "y"]):
            with self.subTest(cmd=cmd):
                r = self.ctl("--json", *cmd)
                self.assertEqual(r.rc, 5, r)
                docs = [json.loads(line) for line in r.out.splitlines()]
                self.assertEqual(len(docs), 1, "%d documents: %r"
                                 % (len(docs), r.text))

    def test_server_killed_mid_tree(self):
        """[28] The server is killed mid-file and comes back on the same
        port a second later: the running mirror reconnects and resumes
        with REST (or, failing that, a second mirror does)."""
        srv = self.server(rate=5 * MIB)
        src, digest = self.big_tree(srv)
        self.open_s(srv)
        proc = self.spawn("--json", "mirror", "s:/src", "dst")
        part = self.here("dst", "big.bin.part")
        self.wait_part(proc, part, 5 * MIB)
        ftpa.stop_process(srv.proc, signal.SIGKILL)
        at_kill = os.path.getsize(part)
        time.sleep(1)
        srv2 = self.restart_pyftpd(srv)
        out, err = proc.communicate(timeout=180)
        note("mirror with the server killed at %d bytes: exit %s, "
             "stderr %r", at_kill, proc.returncode, err[-300:])
        rests = [c for c in srv2.commands() if c.upper().startswith("REST ")
                 and c.split()[1] != "0"]
        if proc.returncode != 0:
            note("the running mirror failed (exit %s); a second mirror",
                 proc.returncode)
            self.assertTrue(os.path.exists(part), "no .part to resume")
            size = self.assertPrefixOf(part, os.path.join(src, b"big.bin"))
            self.ok(self.ctl("mirror", "s:/src", "dst"))
            rests = [c for c in srv2.commands()
                     if c.upper().startswith("REST ")
                     and c.split()[1] != "0"]
            self.assertIn("REST %d" % size, rests)
        else:
            note("the running mirror completed itself: %s", rests)
            self.assertEqual(ftpa.Result(0, out, err).json()["state"],
                             "done")
            self.assertTrue(rests, "the retried download did not resume")
            self.assertGreaterEqual(int(rests[0].split()[1]), 5 * MIB)
        self.assertEqual(ftpa.sha256_file(self.here("dst", "big.bin")),
                         digest)
        self.assertSameTree(src, self.here("dst"))
        self.assertNoPart(self.here("dst"))

    # -- the progress line on a terminal
    def test_progress_line_on_a_terminal(self):
        """A slow mirror in tmux: stderr shows "N/M files" (files done
        out of planned), and at the end the line is erased."""
        if shutil.which("tmux") is None:
            self.skipTest("tmux is not installed (Debian package tmux)")
        from test_progress_tty import Tmux
        srv = self.server(rate=1 * MIB)
        src, sample = self.sample_on_server(srv, entries=[
            (b"f%02d.bin" % i, MIB) for i in range(12)])
        self.open_s(srv)
        script = os.path.join(self.work, "run.sh")
        with open(script, "w") as f:
            f.write("cd %s\nexport HOME=%s\n%s -S %s --no-autostart mirror "
                    "-P 2 s:/src dst\necho DONE rc=$?\nexec sleep 600\n"
                    % (shlex.quote(self.work), shlex.quote(self._home()),
                       shlex.quote(ftpa.FTPCTL),
                       shlex.quote(self.agent.sock)))
        tmux = Tmux(self, script)
        seen, final = [], None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = tmux.capture()
            for line in text.splitlines():
                m = TREE_LINE.search(line)
                if m:
                    seen.append((int(m.group(1)), int(m.group(2)),
                                 m.group(3), line.rstrip()))
            if "DONE rc=" in text:
                final = text
                break
            time.sleep(0.05)
        self.assertIsNotNone(final, "no end; the pane:\n" + tmux.capture())
        note("%d captures with a tree line, e.g. %r", len(seen),
             seen[len(seen) // 2][3] if seen else None)
        self.assertTrue(seen, "no tree progress line; at the end:\n" + final)
        for done, total, _, line in seen:
            self.assertLessEqual(done, total, line)
            self.assertLessEqual(len(line), 120, line)
        walked = [s for s in seen if s[1] == 12 and not s[2]]
        self.assertTrue(walked, "never showed N/12 files: %r" % seen[-3:])
        self.assertTrue([s for s in walked if 0 < s[0] < 12],
                        "no line mid-tree: %r" % seen)
        self.assertIn("DONE rc=0", final)
        self.assertIsNone(TREE_LINE.search(final),
                          "the progress line was left:\n" + final)
        self.assertNotRegex(final, r"[KMG]?i?B/s")
        self.assertSameTree(src, self.here("dst"))

    # -- 10,000 files in one directory
    def test_ten_thousand_files_in_one_directory(self):
        """One directory of 10,000 files whose listing (long names) is
        bigger than one local.list answer may be: mirror gets them all,
        a second mirror moves nothing (local.list pages through them),
        and mirror -R sends them back (the local side listed again)."""
        srv = self.server(passive_count=200)
        root = self.remote(srv, "many")
        os.makedirs(root)
        want = {}
        for i in range(10000):
            name = b"a rather long file name, for a big listing %05d.txt" % i
            data = b"%d\n" % i * (1 + i % 5)
            with open(os.path.join(root, name), "wb") as f:
                f.write(data)
            want[name] = ftpa.sha256_bytes(data)
        self.ok(self.ctl("open", "--max-connections=4", "s", srv.url(),
                         password=srv.password))
        t0 = time.monotonic()
        r = self.ctl("--json", "mirror", "-P", "4", "s:/many", "dst",
                     timeout=600)
        note("mirror of 10,000 files: exit %s in %.1f s", r.rc,
             time.monotonic() - t0)
        doc = self.summary(self.ok(r))
        self.assertEqual(doc["files"], 10000, doc)
        got = {rel: v[3] for rel, v in snapshot(self.here("dst")).items()}
        self.assertEqual(got, want)
        mark = self.mark(srv)
        t0 = time.monotonic()
        r = self.ctl("--json", "mirror", "s:/many", "dst", timeout=600)
        note("second mirror: exit %s in %.1f s", r.rc, time.monotonic() - t0)
        self.ok(r, "the agent's log ends:\n" + self.agent.log_text()[-600:])
        doc = self.summary(r)
        self.assertEqual(doc["files"], 0, doc)
        self.assertEqual(doc["skipped"], 10000, doc)
        self.assertEqual(self.verbs(srv, mark, "RETR"), [])
        t0 = time.monotonic()
        r = self.ctl("--json", "mirror", "-R", "-P", "4", "dst", "s:/back",
                     timeout=600)
        note("mirror -R: exit %s in %.1f s", r.rc, time.monotonic() - t0)
        doc = self.summary(self.ok(r))
        self.assertEqual(doc["files"], 10000, doc)
        self.assertEqual(len(os.listdir(self.remote(srv, "back"))), 10000)


class VsftpdCtlTreeTest(ServerCtlTrees, CtlTreeBase):
    """vsftpd: LIST only, MDTM, names as the disk has them."""

    def server(self):
        return self.start_vsftpd()

    def mark(self, srv):
        return self.agent.log_size()

    def commands_since(self, srv, mark):
        return self.agent.commands(mark)

    def test_links_depth_perms(self):
        """vsftpd lists links as links: skipped by default, followed
        with -L (a link to a file is that file, to a directory that
        directory); --max-depth 0 keeps the root's files; --perms gives
        the server's mode bits."""
        srv = self.server_ready()
        root = self.remote(srv, "lk")
        os.makedirs(os.path.join(root, b"real", b"sub"))
        with open(os.path.join(root, b"real", b"sub", b"f"), "wb") as f:
            f.write(b"deep")
        with open(os.path.join(root, b"top"), "wb") as f:
            f.write(b"top file")
        os.chmod(os.path.join(root, b"top"), 0o640)
        os.symlink(b"real", os.path.join(root, b"dirlink"))
        os.symlink(b"top", os.path.join(root, b"filelink"))
        self.chown_tree(srv, root)
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "s:/lk",
                                            "plain")))
        self.assertFalse(os.path.lexists(self.here("plain", "dirlink")))
        self.assertFalse(os.path.lexists(self.here("plain", "filelink")))
        self.assertEqual(doc["skipped"], 2, doc)
        self.ok(self.ctl("mirror", "-L", "s:/lk", "deref"))
        with open(self.here("deref", "filelink"), "rb") as f:
            self.assertEqual(f.read(), b"top file")
        with open(self.here("deref", "dirlink", "sub", "f"), "rb") as f:
            self.assertEqual(f.read(), b"deep")
        self.assertFalse(os.path.islink(self.here("deref", "dirlink")))
        self.ok(self.ctl("mirror", "--max-depth", "0", "--perms", "s:/lk",
                         "flat"))
        self.assertEqual(sorted(os.listdir(self.here("flat"))), [b"top"])
        self.assertEqual(os.stat(self.here("flat", "top")).st_mode & 0o777,
                         0o640)
        r = self.ctl("mirror", "-R", "-L", "flat", "s:/x")
        self.assertEqual(r.rc, 2, r)

    def test_links_recreated(self):
        """mirror -l makes the server's links again when their targets
        stay in the tree; one that leaves it is skipped; a second run
        changes nothing; a changed target is made anew."""
        srv = self.server_ready()
        root = self.remote(srv, "lr")
        os.makedirs(os.path.join(root, b"real"))
        with open(os.path.join(root, b"real", b"f"), "wb") as f:
            f.write(b"x")
        os.symlink(b"real", os.path.join(root, b"in"))
        os.symlink(b"../../etc", os.path.join(root, b"real", b"out"))
        os.symlink(b"/etc/passwd", os.path.join(root, b"abs"))
        self.chown_tree(srv, root)
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "-l",
                                            "s:/lr", "m")))
        self.assertEqual(os.readlink(self.here("m", "in")), b"real")
        self.assertFalse(os.path.lexists(self.here("m", "real", "out")))
        self.assertFalse(os.path.lexists(self.here("m", "abs")))
        self.assertEqual(doc["files"], 2, doc)      # real/f and the link
        doc = self.summary(self.ok(self.ctl("--json", "mirror", "-l",
                                            "s:/lr", "m")))
        self.assertEqual(doc["files"], 0, doc)
        os.remove(os.path.join(root, b"in"))
        os.symlink(b"real/f", os.path.join(root, b"in"))
        self.chown_tree(srv, root)
        self.ok(self.ctl("mirror", "-l", "s:/lr", "m"))
        self.assertEqual(os.readlink(self.here("m", "in")), b"real/f")
        self.assertEqual(self.ctl("mirror", "-L", "-l", "s:/lr", "n").rc, 2)


class MockCtlTreeTest(CtlTreeBase):
    """ftpmock's tree_retr_fail: denied.bin is refused (550), flaky.bin
    is cut short once."""

    GOOD = ((b"ok1.bin", 10000), (b"ok2.bin", 20000),
            (b"flaky.bin", 300000), (b"sub/ok3.bin", 30000))

    def mirror_failing(self, json=False):
        mock = self.start_mock("tree_retr_fail")
        self.sessions = getattr(self, "sessions", 0) + 1
        name = "m%d" % self.sessions
        self.open_s(mock, name)
        dst = self.tmpdir()
        with open(os.path.join(dst, "stale.txt"), "wb") as f:
            f.write(b"not on the server")
        r = self.ctl(*((["--json"] if json else [])
                       + ["mirror", "--delete", name + ":/", dst]))
        for rel, size in self.GOOD:
            p = os.path.join(os.fsencode(dst), rel)
            with open(p, "rb") as fh:
                self.assertEqual(fh.read(), ftpmock_tree.file_bytes(
                    os.path.basename(rel), size), rel)
            self.assertFalse(os.path.exists(p + b".part"), rel)
        self.assertTrue(os.path.isdir(os.path.join(dst, "sub", "empty")))
        self.assertFalse(os.path.exists(os.path.join(dst, "denied.bin")))
        # --delete: nothing removed after a failure
        self.assertTrue(os.path.exists(os.path.join(dst, "stale.txt")))
        return mock, r

    def test_one_file_fails(self):
        """The others arrive whole; the failure is listed on stderr; the
        exit status is the failure's (EXIT STATUS)."""
        mock, r = self.mirror_failing()
        note("mirror with denied.bin refused: exit %s, stderr %r", r.rc,
             r.errtext)
        self.assertNotEqual(r.rc, 0, r)
        lines = r.errtext.splitlines()
        self.assertTrue([l for l in lines if l.startswith("ftpctl: ")
                         and "denied.bin" in l], r)
        self.assertIn("1 of 5 files failed", r.errtext)
        self.assertFalse([l for l in lines if "ok1.bin" in l
                          or "flaky.bin" in l], r)
        # the same with --json: the failure's kind gives the exit status
        mock, rj = self.mirror_failing(json=True)
        doc = self.summary(rj, state="failed")
        self.assertEqual(doc["failed"], 1, doc)
        self.assertEqual(doc["files"], 4, doc)
        self.assertEqual(len(doc["failures"]), 1, doc)
        f = doc["failures"][0]
        self.assertEqual(f["path"], "denied.bin", f)
        self.assertIn("550", f["message"], f)
        self.assertEqual(rj.rc, KIND_EXIT[f["kind"]], (f, rj))
        self.assertEqual(r.rc, rj.rc)
        self.assertEqual(doc["deleted"], 0, doc)

    def test_failure_names_the_remote_path(self):
        """A failure below the root "/" is named /denied.bin on stderr,
        not //denied.bin."""
        mock, r = self.mirror_failing()
        self.assertRegex(r.errtext, r"(?m)^ftpctl: /denied\.bin: ", r)


if __name__ == "__main__":
    ftpa.main()
