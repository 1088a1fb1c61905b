#!/usr/bin/python3
"""libftpagent's local-file calls from a C program (tests/libclient_files.c)
against a real agent and pyftpdlib: a resumed ftpagent_get_file adopts a
partial LOCAL and leaves a complete one alone; a failed download leaves no
empty .part; ftpagent_get_file_background's follower renames the .part at
the job's end and ftpagent_job_wait returns once it has;
ftpagent_put_file_background uploads a file the agent reads after the call
has returned. And the async example of libftpagent(3): a listing and a
stat in flight at once on one connection, from a poll() loop."""
import os
import subprocess

import ftpa

PASSWORD = "Pw-lib-4711"
DATA = bytes(range(256)) * 400 + b"end"         # 102403 bytes
PROG = os.path.join(ftpa.BUILDDIR, "tests", "libclient_files")
ASYNC_EXAMPLE = os.path.join(ftpa.BUILDDIR, "man", "example_async")


class LibFilesTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(PROG):
            self.fail("%s is not built (make check builds it)" % PROG)
        self.work = self.tmpdir()
        self.srv = self.start_pyftpd(user="user", password=PASSWORD)
        self.agent = self.start_agent()
        self.ok(self.ftpctl(self.agent, "open", "s", self.srv.url(),
                            password=PASSWORD), "open")
        with open(os.path.join(self.srv.home, "data.bin"), "wb") as f:
            f.write(DATA)

    def run_prog(self, *args):
        """The program's one line, split: ["ok", "k=v", ...] or
        ["error", kind, ...]."""
        p = subprocess.run([PROG, self.agent.sock, "s"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        out = p.stdout.decode().strip()
        self.assertTrue(out, "no output; stderr: %r" % p.stderr)
        words = out.split()
        self.assertEqual(p.returncode, 0 if words[0] == "ok" else 1, out)
        return words

    def fields(self, words):
        self.assertEqual(words[0], "ok", words)
        return dict(w.split("=", 1) for w in words[1:])

    def local(self, name):
        return os.path.join(self.work, name)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def test_resume_adopts_a_partial_file(self):
        dst = self.local("data.bin")
        with open(dst, "wb") as f:
            f.write(DATA[:40000])
        r = self.fields(self.run_prog("get", "/data.bin", dst, "resume"))
        self.assertEqual(r["complete"], "0")
        self.assertEqual(int(r["bytes"]), len(DATA) - 40000)
        self.assertEqual(self.read(dst), DATA)
        self.assertFalse(os.path.exists(dst + ".part"))

    def test_resume_leaves_a_complete_file(self):
        dst = self.local("data.bin")
        with open(dst, "wb") as f:
            f.write(DATA)
        before = os.stat(dst)
        r = self.fields(self.run_prog("get", "/data.bin", dst, "resume"))
        self.assertEqual(r, {"bytes": "0", "total": str(len(DATA)),
                             "complete": "1"})
        self.assertEqual(os.stat(dst).st_ino, before.st_ino)
        self.assertFalse(os.path.exists(dst + ".part"))
        r = self.fields(self.run_prog("get-bg", "/data.bin", dst, "resume"))
        self.assertEqual(r, {"complete": "1"})

    def test_failure_leaves_no_empty_part(self):
        dst = self.local("missing.bin")
        words = self.run_prog("get", "/missing.bin", dst)
        self.assertEqual(words[:2], ["error", "not_found"])
        self.assertEqual(os.listdir(self.work), [])
        r = self.fields(self.run_prog("get-bg", "/missing.bin", dst))
        self.assertEqual(r["state"], "failed")
        # job_wait returned after the follower had cleaned up
        self.assertEqual(os.listdir(self.work), [])

    def test_directory_or_missing_leaves_nothing(self):
        """Issue 17: a remote directory is "is a directory" (not_found),
        a missing file the server's word; neither leaves a .part, with or
        without resuming and a progress callback."""
        os.mkdir(os.path.join(self.srv.home, "dir"))
        dst = self.local("x")
        for op in ("get", "get-progress"):
            for extra in ([], ["resume"]):
                with self.subTest(op=op, resume=extra):
                    words = self.run_prog(op, "/dir", dst, *extra)
                    self.assertEqual(words[:2], ["error", "not_found"])
                    self.assertEqual(" ".join(words[2:]),
                                     "get /dir: is a directory")
                    self.assertEqual(os.listdir(self.work), [])
                    words = self.run_prog(op, "/missing.bin", dst, *extra)
                    self.assertEqual(words[:2], ["error", "not_found"])
                    self.assertNotIn("is a directory", " ".join(words))
                    self.assertEqual(os.listdir(self.work), [])

    def test_progress_ends_at_the_total(self):
        """Issue 17: the progress callback's last call is the end."""
        dst = self.local("data.bin")
        r = self.fields(self.run_prog("get-progress", "/data.bin", dst))
        self.assertEqual(r["bytes"], str(len(DATA)))
        self.assertGreaterEqual(int(r["calls"]), 1)
        self.assertEqual((r["last_bytes"], r["last_total"]),
                         (str(len(DATA)), str(len(DATA))), r)
        # resumed: the end is what this transfer moved, of the total
        with open(dst, "wb") as f:
            f.write(DATA[:1000])
        r = self.fields(self.run_prog("get-progress", "/data.bin", dst,
                                      "resume"))
        self.assertEqual((r["last_bytes"], r["last_total"]),
                         (r["bytes"], str(len(DATA))), r)
        self.assertEqual(self.read(dst), DATA)

    def test_background_get_is_renamed_by_the_follower(self):
        dst = self.local("bg.bin")
        r = self.fields(self.run_prog("get-bg", "/data.bin", dst))
        self.assertEqual(r["state"], "done")
        # ftpagent_job_wait returned once the follower had renamed
        self.assertEqual(self.read(dst), DATA)
        self.assertFalse(os.path.exists(dst + ".part"))
        # and a resumed background get adopts a partial file too
        with open(dst, "wb") as f:
            f.write(DATA[:1000])
        r = self.fields(self.run_prog("get-bg", "/data.bin", dst, "resume"))
        self.assertEqual(r["state"], "done")
        self.assertEqual(int(r["bytes"]), len(DATA) - 1000)
        self.assertEqual(self.read(dst), DATA)

    def test_background_put(self):
        src = self.local("up.bin")
        with open(src, "wb") as f:
            f.write(DATA[::-1])
        r = self.fields(self.run_prog("put-bg", src, "/up.bin"))
        self.assertEqual(r["state"], "done")
        self.assertEqual(self.read(os.path.join(self.srv.home, "up.bin")),
                         DATA[::-1])
        words = self.run_prog("put-bg", self.work, "/dir.bin")
        self.assertEqual(words[:2], ["error", "local_io"])


class AsyncExampleTest(ftpa.TestCase):
    """man/example_async.c, the program of libftpagent(3)'s event-loop
    section, against a real agent and server."""

    def setUp(self):
        super().setUp()
        if not os.path.exists(ASYNC_EXAMPLE):
            self.fail("%s is not built (make check builds it)" %
                      ASYNC_EXAMPLE)
        self.srv = self.start_pyftpd(user="user", password=PASSWORD)
        self.agent = self.start_agent()
        with open(os.path.join(self.srv.home, "data.bin"), "wb") as f:
            f.write(DATA)
        os.mkdir(os.path.join(self.srv.home, "sub"))

    def run_example(self, *args):
        env = dict(os.environ, FTPAGENT_SOCKET=self.agent.sock)
        return subprocess.run([ASYNC_EXAMPLE,
                               self.srv.url(with_password=True)] +
                              list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, timeout=60)

    def test_list_and_stat_at_once(self):
        p = self.run_example("/", "/data.bin")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().splitlines()
        self.assertIn("/data.bin: %d bytes" % len(DATA), lines)
        self.assertIn("data.bin", lines)
        self.assertIn("sub", lines)
        self.assertEqual(len(lines), 3, lines)

    def test_one_failure_does_not_stop_the_other(self):
        p = self.run_example("/", "/missing.bin")
        self.assertEqual(p.returncode, 1)
        self.assertIn("stat /missing.bin: ", p.stderr.decode())
        lines = p.stdout.decode().splitlines()
        self.assertEqual(sorted(lines), ["data.bin", "sub"])


if __name__ == "__main__":
    ftpa.main()
