"""Test certificates (made with the openssl CLI) and a Python FTPS
client to check the test servers with; ftpa re-exports both."""
import atexit
import os
import shutil
import socket
import subprocess
import tempfile


_CA_CONF = """\
[ca]
default_ca = test_ca
[test_ca]
dir = %(dir)s
database = %(dir)s/index.txt
new_certs_dir = %(dir)s/issued
serial = %(dir)s/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = supplied
[server_ok]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[server_wronghost]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
"""


class Certs:
    """Test certificates, made once per process with the openssl CLI in a
    temporary directory removed at exit. Attributes are paths:

      ca            the test CA's certificate (give it as ca_file)
      server        (cert, key) signed by the CA for DNS:localhost,
                    IP:127.0.0.1 and IP:::1, valid now
      selfsigned    (cert, key) self-signed, same names, valid now
      expired       (cert, key) signed by the CA, same names, valid only
                    in January 2020
      wronghost     (cert, key) signed by the CA for DNS:wrong.example only
      other_ca      another CA's certificate (trusts none of the above)

    by_name(NAME) gives the (cert, key) pair of one of them.
    """

    NAMES = ("server", "selfsigned", "expired", "wronghost")

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ftpa-certs-")
        atexit.register(shutil.rmtree, self.dir, True)
        d = self.dir
        os.makedirs(os.path.join(d, "issued"))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        self.conf = os.path.join(d, "ca.cnf")
        with open(self.conf, "w") as f:
            f.write(_CA_CONF % {"dir": d})
        self.ca, self.ca_key = self._selfsigned("ca", "ftpd-agent test CA",
                                                ca=True)
        self.other_ca, _ = self._selfsigned("other-ca", "some other CA",
                                            ca=True)
        self.selfsigned = self._selfsigned("selfsigned", "localhost")
        self.server = self._signed("server", "server_ok")
        self.wronghost = self._signed("wronghost", "server_wronghost",
                                      cn="wrong.example")
        self.expired = self._signed("expired", "server_ok",
                                    dates=("20200101000000Z",
                                           "20200201000000Z"))

    def by_name(self, name):
        if name not in self.NAMES:
            raise ValueError("no test certificate %r" % name)
        return getattr(self, name)

    def _openssl(self, *args):
        p = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError("openssl %s failed:\n%s"
                               % (" ".join(args), p.stdout.decode()))

    def _selfsigned(self, name, cn, ca=False):
        cert = os.path.join(self.dir, name + ".pem")
        key = os.path.join(self.dir, name + ".key")
        args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key, "-out", cert, "-days", "7", "-subj",
                "/CN=" + cn]
        if ca:
            args += ["-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        else:
            args += ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,"
                     "IP:::1",
                     "-addext", "extendedKeyUsage=serverAuth"]
        self._openssl(*args)
        return cert, key

    def _signed(self, name, ext, cn="localhost", dates=None):
        cert = os.path.join(self.dir, name + ".pem")
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        self._openssl("req", "-new", "-newkey", "rsa:2048", "-nodes",
                      "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        args = ["ca", "-batch", "-notext", "-config", self.conf,
                "-cert", self.ca, "-keyfile", self.ca_key,
                "-extensions", ext, "-in", csr, "-out", cert]
        if dates:   # OpenSSL 3.0's x509 cannot backdate; ca can
            args += ["-startdate", dates[0], "-enddate", dates[1]]
        else:
            args += ["-days", "7"]
        self._openssl(*args)
        return cert, key


_certs = None


def certs():
    """The process's test certificates (a Certs), made on first use."""
    global _certs
    if _certs is None:
        _certs = Certs()
    return _certs


def ftps_client(host, port, user, password, ca_file=None, implicit=False,
                reuse=True, tls_version=None, timeout=15):
    """A logged-in Python ftplib FTPS client (PBSZ 0 and PROT P done), to
    check the test servers themselves. reuse: data connections resume the
    control connection's TLS session (what strict servers demand).
    tls_version "1.2"/"1.3" pins the client. .tls_info() tells the control
    connection's version; .data_log lists (version, session_reused) of
    every data connection."""
    import ftplib
    import ssl

    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    if tls_version:
        v = {"1.2": ssl.TLSVersion.TLSv1_2,
             "1.3": ssl.TLSVersion.TLSv1_3}[tls_version]
        ctx.minimum_version = ctx.maximum_version = v

    class Client(ftplib.FTP_TLS):
        data_log = []

        def ntransfercmd(self, cmd, rest=None):
            conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
            if self._prot_p:
                session = self.sock.session if reuse else None
                conn = self.context.wrap_socket(conn, server_hostname=host,
                                                session=session)
                self.data_log.append((conn.version(), conn.session_reused))
            return conn, size

        def tls_info(self):
            return self.sock.version()

    c = Client(context=ctx, timeout=timeout)
    c.data_log = []
    if implicit:
        raw = socket.create_connection((host, port), timeout)
        c.sock = ctx.wrap_socket(raw, server_hostname=host)
        c.af = c.sock.family
        c.host, c.port = host, port
        c.file = c.sock.makefile("r", encoding=c.encoding)
        c.welcome = c.getresp()
        c.login(user, password, secure=False)
    else:
        c.connect(host, port, timeout)
        c.login(user, password)
    c.prot_p()
    return c


