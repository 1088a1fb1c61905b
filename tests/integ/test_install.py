#!/usr/bin/python3
"""`make install DESTDIR=...` from the build tree (FTPA_BUILDDIR): the
binaries, library, header, .pc, systemd units, sysusers.d file and bash
completion land where configure said; a small program builds with
`pkg-config --cflags --libs libftpagent` against the staged copy and talks
to an agent; the installed completion completes. And a fresh configure
with --prefix, installed by a user who owns only that prefix, puts
everything (units, sysusers.d, completion, examples) under it."""

import os
import pwd
import re
import shutil
import subprocess
import unittest

import ftpa

MAKEFILE = os.path.join(ftpa.BUILDDIR, "Makefile")

PROGRAM = r"""
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftpagent_async.h>

/* one ping blocking, one sent and driven by hand: both headers work */
static void
pinged(struct ftpagent *a, struct ftpagent_reply *r, void *arg)
{
	*(int *)arg = r->error == FTPAGENT_OK && r->json != NULL &&
	    strcmp(r->json, "{}") == 0 ? 1 : -1;
}

int
main(int argc, char *argv[])
{
	struct ftpagent	*a = ftpagent_connect(argc > 1 ? argv[1] : NULL);
	struct pollfd	 pfd;
	char		*res = NULL;
	int		 got = 0;

	if (a == NULL || !ftpagent_call(a, "agent.ping", NULL, &res) ||
	    ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, pinged,
	    &got) == 0) {
		fprintf(stderr, "ping: %s\n", ftpagent_error_message(a));
		ftpagent_free(a);
		return 1;
	}
	while (got == 0) {
		pfd.fd = ftpagent_fd(a);
		pfd.events = POLLIN |
		    (ftpagent_events(a) & FTPAGENT_WRITE ? POLLOUT : 0);
		(void)poll(&pfd, 1, ftpagent_timeout(a));
		ftpagent_process(a, FTPAGENT_READ | FTPAGENT_WRITE);
	}
	printf("%s\n", got == 1 ? res : "async ping failed");
	free(res);
	ftpagent_free(a);
	return got == 1 ? 0 : 1;
}
"""


def make_vars():
    """name -> value of the build tree's Makefile (after configure), and
    the set of *_DATA variables its conditionals left enabled."""
    out, enabled = {}, set()
    with open(MAKEFILE) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*) = ?(.*)$", line.rstrip("\n"))
            if m:
                out[m.group(1)] = m.group(2)
                if m.group(1).endswith("_DATA"):
                    enabled.add(m.group(1))
    return out, enabled


def expand(value, vars_):
    for _ in range(10):
        new = re.sub(r"\$[({]([A-Za-z_]+)[)}]",
                     lambda m: vars_.get(m.group(1), ""), value)
        if new == value:
            break
        value = new
    return value


class InstallTest(ftpa.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dest = None
        if not os.path.exists(MAKEFILE):
            raise unittest.SkipTest("no Makefile in %s" % ftpa.BUILDDIR)
        import tempfile
        cls.dest = tempfile.mkdtemp(prefix="ftpa-destdir-")
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        p = subprocess.run(["make", "-C", ftpa.BUILDDIR, "install",
                            "DESTDIR=" + cls.dest],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, env=env, timeout=600)
        cls.install_log = p.stdout.decode("utf-8", "replace")
        cls.install_rc = p.returncode
        cls.vars, cls.enabled = make_vars()

    @classmethod
    def tearDownClass(cls):
        if cls.dest:
            shutil.rmtree(cls.dest, True)

    def setUp(self):
        super().setUp()
        self.assertEqual(self.install_rc, 0,
                         "make install failed:\n" + self.install_log[-4000:])

    def staged(self, var, *names):
        d = expand("$(%s)" % var, self.vars)
        self.assertTrue(d.startswith("/"), "%s = %r" % (var, d))
        return os.path.join(self.dest + d, *names)

    def assertInstalled(self, path, executable=False):
        self.assertTrue(os.path.isfile(path), "%s is not installed" % path)
        if executable:
            self.assertTrue(os.access(path, os.X_OK), path)

    def test_programs_library_header_pc(self):
        self.assertInstalled(self.staged("sbindir", "ftpd-agent"), True)
        self.assertInstalled(self.staged("bindir", "ftpctl"), True)
        self.assertInstalled(self.staged("includedir", "ftpagent.h"))
        self.assertInstalled(self.staged("includedir", "ftpagent_async.h"))
        self.assertInstalled(self.staged("libdir", "pkgconfig",
                                         "libftpagent.pc"))
        libdir = self.staged("libdir")
        libs = os.listdir(libdir)
        if self.vars.get("enable_shared", "yes") != "no" and \
                any(n.startswith("libftpagent.so") for n in libs):
            self.assertIn("libftpagent.so", libs)
        self.assertTrue([n for n in libs if n.startswith("libftpagent.")],
                        "no libftpagent in %s: %r" % (libdir, libs))
        p = subprocess.run([self.staged("sbindir", "ftpd-agent"), "--version"],
                           stdout=subprocess.PIPE,
                           env=dict(os.environ, LD_LIBRARY_PATH=libdir))
        self.assertEqual(p.returncode, 0)
        self.assertIn(self.vars["PACKAGE_VERSION"], p.stdout.decode())

    def test_adapters_and_examples(self):
        inc = self.staged("includedir")
        for h in ("ftpagent_async.h", "ftpagent_libev.h", "ftpagent_glib.h"):
            self.assertInstalled(os.path.join(inc, h))
        ex = self.staged("docdir", "examples")
        for n in ("parallel_get.h", "parallel_get_libev.c",
                  "parallel_get_glib.c", "parallel_get_blocking.c"):
            self.assertInstalled(os.path.join(ex, n))
        # what a newcomer copies compiles against what was installed
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("needs a C compiler")
        progs = ["parallel_get_libev.c", "parallel_get_blocking.c"]
        glib = []
        if shutil.which("pkg-config"):
            p = subprocess.run(["pkg-config", "--cflags", "glib-2.0"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
            if p.returncode == 0:
                glib = p.stdout.decode().split()
                progs.append("parallel_get_glib.c")
        for n in progs:
            p = subprocess.run([cc, "-fsyntax-only", "-Wall", "-Werror",
                                "-I", inc] + glib + [os.path.join(ex, n)],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            self.assertEqual(p.returncode, 0, "%s: %s"
                             % (n, p.stdout.decode()))

    def test_units_and_sysusers(self):
        found = 0
        for var, names in (("systemdsystemunitdir",
                            ("ftpd-agent.service", "ftpd-agent.socket")),
                           ("systemduserunitdir",
                            ("ftpd-agent.service", "ftpd-agent.socket")),
                           ("sysusersdir", ("ftpd-agent.conf",))):
            key = {"systemdsystemunitdir": "systemdsystemunit_DATA",
                   "systemduserunitdir": "systemduserunit_DATA",
                   "sysusersdir": "sysusers_DATA"}[var]
            if key not in self.enabled:
                continue        # configured with --with-...=no
            for n in names:
                path = self.staged(var, n)
                self.assertInstalled(path)
                found += 1
                if n.endswith(".service"):
                    with open(path) as f:
                        text = f.read()
                    sbin = expand("$(sbindir)", self.vars)
                    self.assertRegex(text, r"\nExecStart=%s/ftpd-agent "
                                     % re.escape(sbin))
        if not found:
            self.skipTest("configured without systemd units")

    def test_bash_completion(self):
        if "bashcompletion_DATA" not in self.enabled:
            self.skipTest("configured without bash completion")
        comp = self.staged("bashcompletiondir", "ftpctl")
        self.assertInstalled(comp)
        bash = shutil.which("bash")
        if not bash:
            self.skipTest("no bash")
        lib = "/usr/share/bash-completion/bash_completion"
        script = ("%s\nsource %s\n"
                  "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1));"
                  " COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; COMPREPLY=();"
                  " _ftpctl; echo \"${COMPREPLY[*]}\"; }\n"
                  "t ftpctl ge\nt ftpctl get --c\nt ftpctl open x --tls ''\n"
                  "t ftpctl put -- \n"
                  % ("source %s" % lib if os.path.exists(lib) else ":", comp))
        p = subprocess.run([bash, "--norc", "-c", script],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = p.stdout.decode().split("\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(lines[0], "get")
        # get's own option, then the session options of URL targets
        self.assertEqual(lines[1].split(), ["--continue", "--ca-file",
                                            "--connect-timeout"])
        self.assertEqual(lines[2].split(), ["none", "explicit", "implicit"])
        self.assertIn("--append", lines[3].split())

    def test_pkg_config_builds_a_program(self):
        pkgconf = shutil.which("pkg-config")
        cc = shutil.which("cc") or shutil.which("gcc")
        if not pkgconf or not cc:
            self.skipTest("needs pkg-config and a C compiler")
        pcdir = self.staged("libdir", "pkgconfig")
        prefix = expand("$(prefix)", self.vars)
        # the staged .pc first; jansson's (Requires.private) from the
        # system's search path
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
        # the .pc names the real prefix; point it at the staged copy
        p = subprocess.run([pkgconf, "--define-variable=prefix=" +
                            self.dest + prefix, "--cflags", "--libs",
                            "libftpagent"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        flags = p.stdout.decode().split()
        self.assertIn("-lftpagent", flags)
        d = self.tmpdir()
        example = os.path.join(ftpa.SRCDIR, "man", "example.c")
        src = os.path.join(d, "ping.c")
        with open(src, "w") as f:
            f.write(PROGRAM)
        exe = os.path.join(d, "ping")
        libdir = self.staged("libdir")
        if not [n for n in os.listdir(libdir)
                if n.startswith("libftpagent.so")]:
            self.skipTest("static-only build: libftpagent.pc names no "
                          "private dependencies (jansson)")
        # the build's own flags: a sanitizer build needs them to link
        flags += (expand("$(CFLAGS)", self.vars).split() +
                  expand("$(LDFLAGS)", self.vars).split())
        p = subprocess.run([cc, "-o", exe, src] + flags,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        agent = self.start_agent()
        p = subprocess.run([exe, agent.sock], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE,
                           env=dict(os.environ, LD_LIBRARY_PATH=libdir))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode().strip(), "{}")
        # the man page's example, when there is one, builds the same way
        if os.path.exists(example):
            p = subprocess.run([cc, "-o", os.path.join(d, "example"),
                                example] + flags,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            self.assertEqual(p.returncode, 0, p.stdout.decode())


class PrefixInstallTest(unittest.TestCase):
    """configure --prefix=P and make install-data, as a user who may write
    to P and nowhere else on the system: nothing may go outside P."""

    DIRS = ("systemdsystemunitdir", "systemduserunitdir", "sysusersdir",
            "bashcompletiondir", "docdir", "mandir", "includedir",
            "pkgconfigdir")

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.top = None
        if os.path.exists(os.path.join(ftpa.SRCDIR, "config.status")):
            raise unittest.SkipTest("the source tree is configured in place: "
                                    "no second build directory")
        cls.top = tempfile.mkdtemp(prefix="ftpa-prefix-")
        os.chmod(cls.top, 0o755)
        cls.prefix = os.path.join(cls.top, "prefix")
        build = os.path.join(cls.top, "build")
        # root runs it as nobody, who can write only here (and /tmp)
        pw = pwd.getpwuid(os.getuid())
        if os.getuid() == 0:
            pw = pwd.getpwnam("nobody")
            os.chown(cls.top, pw.pw_uid, pw.pw_gid)
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL",
                            "MAKEOVERRIDES", "CONFIG_SITE")}
        env["HOME"] = cls.top
        log = []

        drop = {}
        if os.getuid() == 0:
            drop = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])

        def run(argv, cwd):
            p = subprocess.run(argv, cwd=cwd, env=env,
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=600, **drop)
            log.append(p.stdout.decode("utf-8", "replace"))
            return p.returncode

        subprocess.run(["install", "-d", "-o", str(pw.pw_uid), build],
                       check=True)
        cls.rc = run([os.path.join(ftpa.SRCDIR, "configure"),
                      "--prefix=" + cls.prefix, "--without-check"], build)
        if cls.rc == 0:
            cls.rc = run(["make", "install-data"], build)
        cls.log = "".join(log)
        cls.makefile = os.path.join(build, "Makefile")

    @classmethod
    def tearDownClass(cls):
        if cls.top:
            shutil.rmtree(cls.top, True)

    def setUp(self):
        self.assertEqual(self.rc, 0, "configure or make install-data "
                         "failed:\n" + self.log[-4000:])

    def test_directories_under_prefix(self):
        with open(self.makefile) as f:
            vars_ = {}
            for line in f:
                m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*) = ?(.*)$",
                             line.rstrip("\n"))
                if m:
                    vars_[m.group(1)] = m.group(2)
        for var in self.DIRS:
            d = expand("$(%s)" % var, vars_)
            self.assertTrue(d.startswith(self.prefix + "/"),
                            "%s = %r, outside %s" % (var, d, self.prefix))

    def test_nothing_written_outside(self):
        # every directory that make made or installed into, as it said
        dests = re.findall(r"(?:mkdir -p|install -c(?: -m \d+)?) .*?"
                           r"'([^']+)'\s*$", self.log, re.M)
        self.assertTrue(dests, self.log[-2000:])
        for d in dests:
            self.assertTrue(os.path.abspath(d).startswith(self.prefix + "/"),
                            "installed into %s" % d)

    def test_files_under_prefix(self):
        for rel in ("lib/systemd/system/ftpd-agent.service",
                    "lib/systemd/system/ftpd-agent.socket",
                    "lib/systemd/user/ftpd-agent.service",
                    "lib/systemd/user/ftpd-agent.socket",
                    "lib/sysusers.d/ftpd-agent.conf",
                    "share/bash-completion/completions/ftpctl",
                    "share/doc/ftpd-agent/example.c",
                    "share/doc/ftpd-agent/example_async.c",
                    "share/man/man3/libftpagent.3",
                    "include/ftpagent.h",
                    "lib/pkgconfig/libftpagent.pc"):
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, rel)),
                            "%s not installed under %s" % (rel, self.prefix))
        with open(os.path.join(self.prefix, "lib/systemd/system/"
                               "ftpd-agent.service")) as f:
            self.assertIn("\nExecStart=%s/sbin/ftpd-agent " % self.prefix,
                          f.read())
        with open(os.path.join(ftpa.SRCDIR, "man", "example.c"), "rb") as a, \
                open(os.path.join(self.prefix, "share/doc/ftpd-agent/"
                                  "example.c"), "rb") as b:
            self.assertEqual(a.read(), b.read())


if __name__ == "__main__":
    ftpa.main()
