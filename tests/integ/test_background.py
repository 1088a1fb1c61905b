#!/usr/bin/python3
"""A background get leaves no process behind (issue 17): an agent of the
caller's uid renames LOCAL.part to LOCAL itself at the job's end
(transfer.get "rename"), so ftpctl get --background returns with no
child or grandchild left, and the file appears while no ftpctl runs. A
failed or cut-short job leaves its .part (none when nothing came), a
.part replaced meanwhile is never renamed, the names are checked, and an
agent of another uid (system mode) refuses the form: ftpctl then falls
back to its follower process."""
import ctypes
import os
import pwd
import time

import ftpa

PASSWORD = "Pw-bg-1717"
MIB = 1 << 20
OTHER = "nobody"
PR_SET_CHILD_SUBREAPER = 36
FEATURE = "transfer.get.rename"


def children_of(pid):
    """The live (not zombie) processes whose parent is pid."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(name))
    return found


def open_paths(pid, under):
    """What pid's descriptors name under the directory under."""
    found = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target == under or target.startswith(under + "/"):
            found.append(target)
    return found


class BackgroundTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.work = self.tmpdir(0o755)
        # every orphan of ours is re-parented to this process, so a
        # detached grandchild of ftpctl shows up as a child of ours
        libc = ctypes.CDLL(None, use_errno=True)
        self.assertEqual(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0)
        self.addCleanup(libc.prctl, PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        self.adopted = set()
        self.addCleanup(self.reap_adopted)

    def reap_adopted(self):
        for pid in self.adopted:
            try:
                ftpa.wait_until(lambda: pid not in children_of(os.getpid()),
                                30, what="leftover %d to exit" % pid)
                os.waitpid(pid, 0)
            except (OSError, AssertionError):
                pass

    def start(self, rate=None, socket_mode=None, sockdir=None):
        self.srv = self.start_pyftpd(user="user", password=PASSWORD,
                                     rate=rate)
        self.agent = self.start_agent(socket_mode=socket_mode,
                                      sockdir=sockdir)
        self.ok(self.ctl("open", "s", self.srv.url(), password=PASSWORD),
                "open")

    def ctl(self, *args, **kw):
        return self.ftpctl(self.agent, *args, **kw)

    def remote(self, name, size):
        return ftpa.make_file(os.path.join(self.srv.home, name), size)

    def background_get(self, remote, local, *opts, **kw):
        """ftpctl get --background: its job id, and the processes of it
        that outlived it (adopted by us, the subreaper)."""
        before = children_of(os.getpid())
        r = self.ok(self.ctl("get", "--background", *opts, "s:" + remote,
                             local, **kw))
        left = children_of(os.getpid()) - before
        self.adopted |= left
        return r.text.strip(), left

    def job_wait(self, job, rpc=None):
        """The ended job, asked of the agent directly (no ftpctl runs)."""
        r = rpc or self.agent.rpc()
        try:
            return r.call("job.wait", {"job": job}, timeout=120)
        finally:
            if rpc is None:
                r.close()

    def test_no_process_left_and_file_appears(self):
        self.start(rate=2 * MIB)
        digest = self.remote("f.bin", 6 * MIB)
        dst = os.path.join(self.work, "f.bin")
        job, left = self.background_get("/f.bin", dst)
        self.assertEqual(left, set(), "ftpctl left processes behind")
        # the job runs on (about 3 s) with nothing of ftpctl alive
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        st = rpc.call("job.status", {"job": job})
        self.assertIn(st["state"], ("queued", "running"), st)
        self.assertFalse(os.path.exists(dst))
        self.assertTrue(os.path.exists(dst + ".part"))
        j = self.job_wait(job, rpc)
        self.assertEqual(j["state"], "done", j)
        # named by the agent before the job was reported done
        self.assertFalse(os.path.exists(dst + ".part"))
        self.assertEqual(ftpa.sha256_file(dst), digest)
        self.assertEqual(children_of(os.getpid()) & self.adopted, set())
        # the agent holds neither the file nor its directory any more
        self.assertEqual(open_paths(self.agent.pid, self.work), [])

    def test_replaces_through_a_symlink_and_resumes(self):
        self.start(rate=4 * MIB)
        digest = self.remote("r.bin", 12 * MIB)
        real = os.path.join(self.work, "real.bin")
        with open(real, "wb") as f:
            f.write(b"old contents\n")
        link = os.path.join(self.work, "link.bin")
        os.symlink("real.bin", link)
        job, left = self.background_get("/r.bin", link)
        self.assertEqual(left, set())
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        ftpa.wait_until(lambda: rpc.call("job.status", {"job": job})
                        ["bytes"] > 0, 30, what="the download to start")
        rpc.call("job.cancel", {"job": job})
        self.assertEqual(self.job_wait(job, rpc)["state"], "cancelled")
        # what came stays for -c; the old file is untouched
        have = os.path.getsize(real + ".part")
        self.assertGreater(have, 0)
        with open(real, "rb") as f:
            self.assertEqual(f.read(), b"old contents\n")
        job, left = self.background_get("/r.bin", link, "-c")
        self.assertEqual(left, set())
        j = self.job_wait(job, rpc)
        self.assertEqual(j["state"], "done", j)
        self.assertEqual(j["bytes"], 12 * MIB - have)
        self.assertTrue(os.path.islink(link))
        self.assertEqual(ftpa.sha256_file(real), digest)
        self.assertFalse(os.path.exists(real + ".part"))

    def test_missing_remote_file(self):
        self.start()
        dst = os.path.join(self.work, "missing.bin")
        job, left = self.background_get("/missing.bin", dst)
        self.assertEqual(left, set())
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        self.assertEqual(self.job_wait(job, rpc)["state"], "failed")
        # no final file, and the empty .part ftpctl made is gone
        self.assertFalse(os.path.exists(dst))
        self.assertFalse(os.path.exists(dst + ".part"))
        # a .part that was there before stays, even empty
        open(dst + ".part", "wb").close()
        job, left = self.background_get("/missing.bin", dst, "-c")
        self.assertEqual(self.job_wait(job, rpc)["state"], "failed")
        self.assertTrue(os.path.exists(dst + ".part"))
        self.assertFalse(os.path.exists(dst))

    def test_connection_cut_short(self):
        mock = self.start_mock("short_data")
        self.agent = self.start_agent()
        self.ok(self.ctl("open", "m", mock.url("/"), password="mockpw"))
        dst = os.path.join(self.work, "dest")
        with open(dst, "wb") as f:
            f.write(b"the good old file\n")
        before = children_of(os.getpid())
        r = self.ok(self.ctl("get", "--background", "m:/file", dst))
        self.assertEqual(children_of(os.getpid()) - before, set())
        j = self.job_wait(r.text.strip())
        self.assertEqual(j["state"], "failed", j)
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), b"the good old file\n")
        self.assertTrue(os.path.exists(dst + ".part"))
        self.assertGreater(os.path.getsize(dst + ".part"), 0)
        self.assertLessEqual(os.path.getsize(dst + ".part"), MIB // 2)

    @staticmethod
    def rename_get(rpc, remote, local, dir_path=None, **over):
        """transfer.get wait:false into local.part with "rename" (the
        directory: local's, or dir_path opened for reading); the raw
        reply."""
        part = os.open(local + ".part", os.O_WRONLY | os.O_CREAT |
                       os.O_TRUNC | os.O_CLOEXEC, 0o644)
        if dir_path is None:
            d = os.open(os.path.dirname(local), os.O_PATH | os.O_DIRECTORY
                        | os.O_CLOEXEC)
        else:
            d = os.open(dir_path, os.O_RDONLY | os.O_CLOEXEC)
        base = os.path.basename(local)
        ren = {"dir_fd": 1, "from": base + ".part", "to": base}
        ren.update(over)
        try:
            return rpc.call_raw("transfer.get", {
                "session": "s", "path": remote, "fd": 0, "wait": False,
                "rename": ren}, fds=(part, d))
        finally:
            os.close(part)
            os.close(d)

    def test_names_checked(self):
        self.start()
        self.remote("n.bin", 1000)
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        self.assertIn(FEATURE, rpc.call("rpc.info")["features"])
        dst = os.path.join(self.work, "n.bin")
        for over in ({"from": "other.part"}, {"to": "../n.bin",
                                              "from": "../n.bin.part"},
                     {"to": ".", "from": "..part"}, {"to": "a/b",
                                                     "from": "a/b.part"},
                     {"to": "", "from": ".part"}, {"from": "n.bin"},
                     {"dir_fd": 5}, {"dir_fd": None}):
            with self.subTest(over=over):
                rep = self.rename_get(rpc, "/n.bin", dst, **over)
                self.assertRpcError(rep, ftpa.E_PARAMS)
        # a file given as the directory
        rep = self.rename_get(rpc, "/n.bin", dst, dir_path=__file__)
        self.assertRpcError(rep, kind="local_io")
        # an upload has no name to give
        src = os.open(__file__, os.O_RDONLY)
        try:
            rep = rpc.call_raw("transfer.put", {
                "session": "s", "path": "/up", "fd": 0,
                "rename": {"dir_fd": 0, "from": "x.part", "to": "x"}},
                fds=(src,))
        finally:
            os.close(src)
        self.assertRpcError(rep, ftpa.E_PARAMS)
        self.assertFalse(os.path.exists(dst))
        self.assertFalse(os.path.exists(os.path.join(self.srv.home, "up")))
        # every refused descriptor was closed
        self.assertEqual(open_paths(self.agent.pid, self.work), [])

    def test_replaced_part_is_not_renamed(self):
        self.start(rate=2 * MIB)
        self.remote("v.bin", 4 * MIB)
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        dst = os.path.join(self.work, "v.bin")
        job = rpc.call("transfer.get", {"session": "s", "path": "/v.bin",
                                        "wait": False, "fd": 0,
                                        "rename": {"dir_fd": 1,
                                                   "from": "v.bin.part",
                                                   "to": "v.bin"}},
                       fds=self.part_and_dir(dst))["job"]
        # someone puts another file in the .part's place meanwhile
        os.rename(dst + ".part", dst + ".moved")
        with open(dst + ".part", "wb") as f:
            f.write(b"impostor\n")
        j = self.job_wait(job, rpc)
        self.assertEqual(j["state"], "failed", j)
        self.assertEqual(j["error"]["data"]["kind"], "local_io", j)
        self.assertFalse(os.path.exists(dst))
        with open(dst + ".part", "rb") as f:
            self.assertEqual(f.read(), b"impostor\n")
        self.assertEqual(os.path.getsize(dst + ".moved"), 4 * MIB)

    def part_and_dir(self, local):
        part = os.open(local + ".part", os.O_WRONLY | os.O_CREAT |
                       os.O_CLOEXEC, 0o644)
        d = os.open(os.path.dirname(local), os.O_PATH | os.O_DIRECTORY |
                    os.O_CLOEXEC)
        self.addCleanup(os.close, part)
        self.addCleanup(os.close, d)
        return (part, d)

    def test_other_uid_is_refused_and_falls_back(self):
        """The agent (root here) never renames for another uid, as a
        system agent: rpc.info does not offer it, transfer.get refuses
        it, and ftpctl's follower renames instead."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another uid")
        self.start(rate=2 * MIB, socket_mode=0o666,
                   sockdir=self.tmpdir(0o755))
        digest = self.remote("o.bin", 3 * MIB)
        pw = pwd.getpwnam(OTHER)
        mine = self.tmpdir(0o755)
        os.chown(mine, pw.pw_uid, pw.pw_gid)
        dst = os.path.join(mine, "o.bin")
        sock, url = self.agent.sock, self.srv.url()

        def child():
            r = ftpa.Rpc(sock, 20)
            try:
                info = r.call("rpc.info")
                r.call("session.open", {"url": url, "password": PASSWORD,
                                        "name": "s"})
                rep = self.rename_get(r, "/o.bin", dst)
                r.call("session.close", {"session": "s"})
                return [info.get("features"), rep]
            finally:
                r.close()
        features, rep = ftpa.run_as(OTHER, child)
        self.assertNotIn(FEATURE, features)
        self.assertRpcError(rep, kind="permission")
        self.assertEqual(os.path.getsize(dst + ".part"), 0)
        os.unlink(dst + ".part")

        before = children_of(os.getpid())
        self.ok(self.ctl("open", "s", url, password=PASSWORD, user=OTHER))
        r = self.ok(self.ctl("get", "--background", "s:/o.bin", dst,
                             user=OTHER))
        # the fallback: ftpctl's follower, running as the user
        left = children_of(os.getpid()) - before
        self.adopted |= left
        self.assertEqual(len(left), 1, left)
        self.assertEqual(os.stat("/proc/%d" % left.pop()).st_uid, pw.pw_uid)
        self.ok(self.ctl("wait", r.text.strip(), user=OTHER))
        # without a lock directory of the user's, wait cannot wait for
        # the follower's rename
        ftpa.wait_until(lambda: os.path.exists(dst), 30,
                        what="the follower's rename")
        self.assertEqual(ftpa.sha256_file(dst), digest)
        self.assertEqual(os.stat(dst).st_uid, pw.pw_uid)
        self.assertFalse(os.path.exists(dst + ".part"))


if __name__ == "__main__":
    ftpa.main()
