#!/usr/bin/python3
"""<ftpagent_libev.h> and <ftpagent_glib.h> driven by tests/libclient_loops.c
against a real agent: a call's deadline fires through the adapter even
when the loop's cached time is stale (libev) and when a reply to a later
call comes first without changing the earliest deadline (GLib); a
connection detached and freed, or freed from a callback without
detaching, leaves nothing watched in the loop."""
import os
import socket
import subprocess
import unittest

import ftpa

PROG = os.path.join(ftpa.BUILDDIR, "tests", "libclient_loops")


def glib_configured():
    try:
        with open(os.path.join(ftpa.BUILDDIR, "config.status")) as f:
            return 'S["HAVE_GLIB_TRUE"]=""' in f.read()
    except OSError:
        return False


class Adapters:
    LOOP = None

    def setUp(self):
        super().setUp()
        if not os.access(PROG, os.X_OK):
            self.fail("%s is not built (make check builds it)" % PROG)
        self.agent = self.start_agent()
        # a server that takes connections and never greets
        self.silent = socket.socket()
        self.silent.bind(("127.0.0.1", 0))
        self.silent.listen(8)
        self.addCleanup(self.silent.close)
        self.url = "ftp://u@127.0.0.1:%d/" % self.silent.getsockname()[1]

    def run_loop(self, end):
        p = subprocess.run([PROG, self.agent.sock, self.url, self.LOOP, end],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        out = p.stdout.decode().strip()
        self.assertEqual(p.returncode, 0, "%r %r" % (out, p.stderr))
        words = out.split()
        self.assertEqual(words[0], "ok", out)
        r = dict(w.split("=", 1) for w in words[1:])
        self.assertEqual(r["open"], "timeout", out)
        self.assertEqual(r["ping"], "ok", out)
        # 300 + 400 ms after the start, not much later
        self.assertLess(float(r["ms"]), 3000, out)

    def test_deadline_then_detach_and_free(self):
        self.run_loop("detach")

    def test_deadline_then_free_without_detach(self):
        self.run_loop("free")


class LibevTest(Adapters, ftpa.TestCase):
    LOOP = "libev"


@unittest.skipUnless(glib_configured(), "configured without GLib")
class GlibTest(Adapters, ftpa.TestCase):
    LOOP = "glib"


if __name__ == "__main__":
    ftpa.main()
