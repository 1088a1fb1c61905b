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

pages="ftpctl.1 libftpagent.3 ftpagent_async.3 ftpd-agent.conf.5 ftpd-agent-protocol.7
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

# The programs of EXAMPLES in libftpagent.3, unescaped, are man/example.c
# (the last display but one) and man/example_async.c (the last), byte
# for byte: both are built by "make check" and the second is run.
page=$top/man/libftpagent.3
tmp=${TMPDIR:-/tmp}/man-lint.$$
trap 'rm -f "$tmp".*' EXIT HUP INT TERM
if [ -f "$page" ]; then
	awk -v out="$tmp" '
		/^\.Sh / { inex = ($0 == ".Sh EXAMPLES") }
		inex && /^\.Bd -literal/ { lit = 1; n++; next }
		inex && lit && /^\.Ed/ { lit = 0; next }
		inex && lit { print > (out "." n) }
		END { print n > (out ".n") }
	' "$page"
	n=$(cat "$tmp.n")
	for pair in "example.c $((n - 1))" "example_async.c $n"; do
		set -- $pair
		sed -e 's/^\\&//' -e 's/\\e/\\/g' "$tmp.$2" >"$tmp.x" 2>/dev/null
		if cmp -s "$tmp.x" "$top/man/$1"; then
			echo "man-lint: libftpagent.3: its example is man/$1"
		else
			echo "man-lint: libftpagent.3: the EXAMPLES program differs from man/$1:"
			diff "$top/man/$1" "$tmp.x"
			status=1
		fi
	done
fi

exit $status
