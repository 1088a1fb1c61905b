#!/usr/bin/python3
"""Sessions belong to the uid that opened them (TEST-CASES 33)."""
import fcntl
import os
import pwd
import subprocess
import threading

import ftpa

PASSWORD = "uid-test-Pw-31"
OTHER = "nobody"


def sessions_of(doc):
    return doc["sessions"] if isinstance(doc, dict) else doc


class UidTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another uid")
        self.srv = self.start_pyftpd(password=PASSWORD)
        sockdir = self.tmpdir(0o755)
        self.agent = self.start_agent(socket_mode=0o666, sockdir=sockdir)
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        self.root_rpc = rpc
        res = rpc.call("session.open", {"url": self.srv.url(),
                                        "password": PASSWORD,
                                        "name": "rootsess"})
        self.root_sid = res["session"]

    def as_other(self, calls):
        """Runs [(method, params)...] as OTHER; returns the raw replies."""
        sock = self.agent.sock

        def child():
            r = ftpa.Rpc(sock, 20)
            try:
                return [r.call_raw(m, p) for m, p in calls]
            finally:
                r.close()
        return ftpa.run_as(OTHER, child)

    def test_other_uid_cannot_see_or_use(self):
        sid = self.root_sid
        lst, ls, get, close = self.as_other([
            ("session.list", None),
            ("fs.list", {"session": sid, "path": "/"}),
            ("transfer.get", {"session": sid, "path": "/x", "inline": True}),
            ("session.close", {"session": sid}),
        ])
        self.assertEqual(lst.get("result"), [], lst)
        for rep in (ls, get, close):
            err = self.assertRpcError(rep)
            self.assertIn(err["data"]["kind"], ("permission", "no_session"))
        # still open and usable for root
        ids = [s["session"] for s in self.root_rpc.call("session.list")]
        self.assertIn(sid, ids)
        self.root_rpc.call("fs.list", {"session": sid, "path": "/"})

    def test_other_uid_with_ftpctl(self):
        r = self.ftpctl(self.agent, "--json", "sessions", user=OTHER)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(sessions_of(r.json()), [])
        r = self.ftpctl(self.agent, "ls", "rootsess:/", user=OTHER)
        self.assertNotEqual(r.rc, 0, r)
        r = self.ftpctl(self.agent, "close", "rootsess", user=OTHER)
        self.assertNotEqual(r.rc, 0, r)
        self.ok(self.ftpctl(self.agent, "ls", "rootsess:/"))

    def test_root_sees_all(self):
        url = self.srv.url()
        opened, lst = self.as_other([
            ("session.open", {"url": url, "password": PASSWORD,
                              "name": "othersess"}),
            ("session.list", None),
        ])
        self.assertIn("result", opened, opened)
        other_sid = opened["result"]["session"]
        mine = lst["result"]
        self.assertEqual([s["session"] for s in mine], [other_sid])
        every = self.root_rpc.call("session.list")
        ids = {s["session"]: s for s in every}
        self.assertIn(self.root_sid, ids)
        self.assertIn(other_sid, ids)
        uid = ftpa.pwd.getpwnam(OTHER).pw_uid
        if "uid" in ids[other_sid]:
            self.assertEqual(ids[other_sid]["uid"], uid)
            self.assertEqual(ids[self.root_sid]["uid"], 0)


class AgentAsOtherUidTest(ftpa.TestCase):
    """The system unit runs the agent as its own user: pipes a client
    passes belong to someone else, and /proc cannot reopen them."""

    def test_pipes_of_another_uid(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run the agent as another uid")
        pw = pwd.getpwnam(OTHER)
        d = self.tmpdir(0o755)
        os.chown(d, pw.pw_uid, pw.pw_gid)
        sock = os.path.join(d, "agent.sock")

        def drop():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        proc = subprocess.Popen(
            [ftpa.AGENT, "--user", "-f", "-S", sock, "--socket-mode", "0666"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=drop,
            env=dict(os.environ, XDG_RUNTIME_DIR=d, HOME=d),
            start_new_session=True)
        self.addCleanup(ftpa.stop_process, proc)
        ftpa.wait_until(lambda: os.path.exists(sock), 10, what="the socket")
        srv = self.start_pyftpd(password=PASSWORD)
        rpc = ftpa.Rpc(sock, 30)
        self.addCleanup(rpc.close)
        sid = rpc.call("session.open", {"url": srv.url(),
                                        "password": PASSWORD})["session"]
        data = os.urandom(3 << 20)
        r, w = os.pipe()

        def feed():
            with os.fdopen(w, "wb") as f:
                f.write(data)
        t = threading.Thread(target=feed)
        t.start()
        try:
            job = rpc.call("transfer.put", {"session": sid, "path": "up",
                                            "fd": 0}, fds=[r], timeout=60)
        finally:
            t.join(30)
        self.assertEqual(job["state"], "done", job)
        with open(os.path.join(srv.home, "up"), "rb") as f:
            self.assertEqual(f.read(), data)
        # the description the agent shared is blocking again
        self.assertFalse(fcntl.fcntl(r, fcntl.F_GETFL) & os.O_NONBLOCK)
        os.close(r)
        # and a download into a pipe
        r, w = os.pipe()
        got = []

        def drain():
            with os.fdopen(r, "rb") as f:
                got.append(f.read())
        t = threading.Thread(target=drain)
        t.start()
        job = rpc.call("transfer.get", {"session": sid, "path": "up",
                                        "fd": 0}, fds=[w], timeout=60)
        os.close(w)
        t.join(30)
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(got, [data])


if __name__ == "__main__":
    ftpa.main()
