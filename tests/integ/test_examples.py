#!/usr/bin/python3
"""The programs of docs/examples/ against a real agent and pyftpdlib:
parallel_get_libev and parallel_get_glib (ten downloads and a listing at
once on one connection, through <ftpagent_libev.h> and <ftpagent_glib.h>)
and parallel_get_blocking (the same one at a time). Every file comes out
byte for byte, the listing's count is the directory's, exit status 0; a
missing remote file makes the exit status 1 and leaves the good local
file of that name as it was, with no .part beside it."""
import os
import subprocess
import unittest

import ftpa

PASSWORD = "Pw-examples-0815"
# ten files, from empty to a few MiB, so that some are still running
# when others and the listing are answered
SIZES = [0, 1, 4095, 65536, 100003, 262144, 1 << 20, 1500000, 3 << 20,
         777777]


def glib_configured():
    """Whether configure found GLib (else parallel_get_glib is skipped)."""
    try:
        with open(os.path.join(ftpa.BUILDDIR, "config.status")) as f:
            return 'S["HAVE_GLIB_TRUE"]=""' in f.read()
    except OSError:
        return False


class Examples:
    """The tests; each subclass runs them against one program, PROG."""
    PROG = None

    def setUp(self):
        super().setUp()
        self.path = os.path.join(ftpa.BUILDDIR, "docs", "examples", self.PROG)
        if not os.access(self.path, os.X_OK):
            self.fail("%s is not built (make check builds it)" % self.path)
        self.srv = self.start_pyftpd(user="user", password=PASSWORD)
        self.agent = self.start_agent()
        pub = os.path.join(self.srv.home, "pub")
        os.mkdir(pub)
        self.sums = {}
        for i, size in enumerate(SIZES):
            name = "f%02d.bin" % i
            self.sums[name] = ftpa.make_file(os.path.join(pub, name), size)
        self.names = sorted(self.sums)

    def run_prog(self, outdir, remotes, socket=None):
        env = dict(os.environ, FTP_PASSWORD=PASSWORD,
                   FTPAGENT_SOCKET=socket or self.agent.sock)
        try:
            p = subprocess.run([self.path, self.srv.url(), outdir] + remotes,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, timeout=120)
        except subprocess.TimeoutExpired as ex:
            self.fail("%s did not exit in 120 s (stderr %r)"
                      % (self.PROG, ex.stderr))
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def check_listing(self, out):
        self.assertRegex(out, r"(?m)^listing /pub: %d entries$"
                         % len(self.names))

    def check_files(self, outdir, names):
        for n in names:
            local = os.path.join(outdir, n)
            self.assertEqual(ftpa.sha256_file(local), self.sums[n], local)

    def test_all_downloads_and_the_listing(self):
        outdir = self.tmpdir()
        rc, out, err = self.run_prog(outdir,
                                     ["/pub/" + n for n in self.names])
        self.assertEqual(rc, 0, "stdout %r\nstderr %r" % (out, err))
        self.check_files(outdir, self.names)
        self.assertEqual(sorted(os.listdir(outdir)), self.names)
        self.check_listing(out)
        for n, size in zip(self.names, SIZES):
            self.assertIn("%s/%s: %d bytes\n" % (outdir, n, size), out)
        self.check_progress(err)

    def check_progress(self, err):
        # not a terminal: plain lines
        self.assertNotIn("\r", err)

    def test_missing_file_fails_and_keeps_the_good_one(self):
        outdir = self.tmpdir()
        good = os.path.join(outdir, "gone.bin")
        with open(good, "wb") as f:
            f.write(b"the good copy\n")
        remotes = ["/pub/" + n for n in self.names[:9]] + ["/pub/gone.bin"]
        rc, out, err = self.run_prog(outdir, remotes)
        self.assertEqual(rc, 1, "stdout %r\nstderr %r" % (out, err))
        self.assertRegex(out, r"(?m)^/pub/gone\.bin: failed: .*"
                         r"\[not_found\]$")
        with open(good, "rb") as f:
            self.assertEqual(f.read(), b"the good copy\n")
        self.assertEqual(sorted(os.listdir(outdir)),
                         sorted(self.names[:9] + ["gone.bin"]))
        self.check_files(outdir, self.names[:9])
        self.check_listing(out)

    def test_no_agent(self):
        d = self.tmpdir()
        rc, out, err = self.run_prog(d, ["/pub/f00.bin"],
                                     socket=os.path.join(d, "nothing.sock"))
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r"^parallel_get: .+")
        self.assertEqual(os.listdir(d), [])


class LibevTest(Examples, ftpa.TestCase):
    PROG = "parallel_get_libev"

    def check_progress(self, err):
        super().check_progress(err)
        # the last line once everything is in
        total = sum(SIZES)
        self.assertEqual(err.strip().splitlines()[-1],
                         "10/10 files, %d of %d bytes" % (total, total), err)


@unittest.skipUnless(glib_configured(), "configured without GLib")
class GlibTest(LibevTest):
    PROG = "parallel_get_glib"


class BlockingTest(Examples, ftpa.TestCase):
    PROG = "parallel_get_blocking"


if __name__ == "__main__":
    ftpa.main()
