#!/bin/sh
# The man pages are clean under "mandoc -Tlint -Wwarning" (no warning,
# error or worse), and the example program of libftpagent(3) is exactly
# man/example.c, which the build compiles. Skips (77) without mandoc.
#
# The source tree: $srcdir (automake), else $FTPA_SRCDIR, else the
# directory above this script.

if ! command -v mandoc >/dev/null 2>&1; then
	echo "man-lint: mandoc not found (Debian package mandoc): skipped"
	exit 77
fi

if [ -n "${srcdir:-}" ] && [ -d "$srcdir/man" ]; then
	top=$srcdir
elif [ -n "${FTPA_SRCDIR:-}" ]; then
	top=$FTPA_SRCDIR
else
	top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
fi

pages="ftpctl.1 libftpagent.3 ftpd-agent.conf.5 ftpd-agent-protocol.7
ftpd-agent.8"
status=0

for p in $pages; do
	f=$top/man/$p
	if [ ! -f "$f" ]; then
		echo "man-lint: $f: missing"
		status=1
		continue
	fi
	out=$(mandoc -Tlint -Wwarning "$f" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ -n "$out" ]; then
		echo "man-lint: $p: mandoc -Tlint -Wwarning exited $rc:"
		printf '%s\n' "$out"
		status=1
	else
		echo "man-lint: $p: clean"
	fi
done

# The last literal display of EXAMPLES in libftpagent.3, unescaped, must
# be man/example.c byte for byte.
page=$top/man/libftpagent.3
example=$top/man/example.c
if [ -f "$page" ] && [ -f "$example" ]; then
	tmp=${TMPDIR:-/tmp}/man-lint.$$
	trap 'rm -f "$tmp"' EXIT HUP INT TERM
	awk '
		/^\.Sh / { inex = ($0 == ".Sh EXAMPLES") }
		inex && /^\.Bd -literal/ { lit = 1; n = 0; next }
		inex && lit && /^\.Ed/ { lit = 0; last = n; for (i = 1; i <= n; i++) keep[i] = buf[i]; next }
		inex && lit { buf[++n] = $0 }
		END { for (i = 1; i <= last; i++) print keep[i] }
	' "$page" | sed -e 's/^\\&//' -e 's/\\e/\\/g' >"$tmp"
	if cmp -s "$tmp" "$example"; then
		echo "man-lint: libftpagent.3: its example is man/example.c"
	else
		echo "man-lint: libftpagent.3: the EXAMPLES program differs from man/example.c:"
		diff "$example" "$tmp"
		status=1
	fi
fi

exit $status
