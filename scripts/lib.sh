# shellcheck shell=bash
# Shell helpers shared by scripts/check, scripts/demo and .ci/run.
# Source it; it defines functions and FTPA_TOP, and changes nothing else.

FTPA_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages needed to build, test and demo (clang and its runtime:
# the libFuzzer harnesses of tests/fuzz; GLib: the example of
# <ftpagent_glib.h>). Keep in sync with README.md.
FTPA_PACKAGES=(build-essential autoconf automake libtool pkg-config
	libev-dev libssl-dev libjansson-dev libglib2.0-dev check vsftpd
	python3-pyftpdlib python3-openssl socat tmux valgrind openssl systemd
	bash-completion mandoc strace clang libclang-rt-14-dev)

ftpa_say() { printf '==> %s\n' "$*" >&2; }
ftpa_die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
ftpa_as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		ftpa_die "need root or sudo to run: $*"
	fi
}

# Prints the packages of FTPA_PACKAGES that are not installed.
ftpa_missing_packages() {
	local p st
	for p in "${FTPA_PACKAGES[@]}"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || printf '%s\n' "$p"
	done
}

# The Debian vsftpd package starts a system vsftpd on port 21; the tests
# start their own instances on free ports and do not want it.
ftpa_stop_system_vsftpd() {
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		ftpa_as_root systemctl disable --now vsftpd >/dev/null 2>&1 || true
	else
		ftpa_as_root service vsftpd stop >/dev/null 2>&1 || true
		# No init system to ask: stop a daemon started with the system config.
		local pid
		for pid in $(pgrep -x vsftpd 2>/dev/null || true); do
			if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
			    grep -Eq '^[^ ]*vsftpd( /etc/vsftpd\.conf)? *$'; then
				ftpa_as_root kill "$pid" 2>/dev/null || true
			fi
		done
	fi
}

# Installs whatever is missing; does nothing (and needs no root) otherwise.
ftpa_install_deps() {
	local missing
	missing=$(ftpa_missing_packages | tr '\n' ' ')
	[ -n "$missing" ] || return 0
	command -v apt-get >/dev/null 2>&1 ||
		ftpa_die "missing packages and no apt-get: $missing"
	ftpa_say "installing: $missing"
	ftpa_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086
	ftpa_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing
	if [[ " $missing " == *" vsftpd "* ]]; then
		ftpa_stop_system_vsftpd
	fi
}

# Regenerates the build system when configure is missing or stale.
ftpa_autoreconf() {
	local top=$FTPA_TOP f
	local regen=no
	if [ ! -x "$top/configure" ] || [ ! -f "$top/Makefile.in" ]; then
		regen=yes
	else
		for f in configure.ac Makefile.am; do
			[ "$top/$f" -nt "$top/configure" ] && regen=yes
			[ "$top/$f" -nt "$top/Makefile.in" ] && regen=yes
		done
	fi
	if [ "$regen" = yes ]; then
		ftpa_say "autoreconf -fi"
		(cd "$top" && autoreconf -fi)
	fi
}

# ftpa_build BUILDDIR CONFIGURE_ARGS...: configures BUILDDIR when needed
# (first time, configure newer, or other arguments/compiler flags than
# last time) and runs make there.
ftpa_build() {
	local builddir=$1
	shift
	local stamp="$builddir/.ftpa-configure-args"
	local want
	want=$(printf '%s\n' "$@" "CC=${CC-}" "CFLAGS=${CFLAGS-}" \
		"LDFLAGS=${LDFLAGS-}" "CPPFLAGS=${CPPFLAGS-}")
	mkdir -p "$builddir"
	if [ ! -f "$builddir/Makefile" ] || [ ! -f "$stamp" ] ||
	    [ "$FTPA_TOP/configure" -nt "$builddir/config.status" ] ||
	    [ "$(cat "$stamp")" != "$want" ]; then
		ftpa_say "configure in $builddir: $*"
		(cd "$builddir" && "$FTPA_TOP/configure" -q "$@") ||
			{ rm -f "$stamp"; return 1; }
		printf '%s\n' "$want" >"$stamp"
	fi
	ftpa_say "make in $builddir"
	make -C "$builddir" -j"$(nproc)"
}

# Absolute path of a build directory; relative ones are taken relative to
# the source tree, so BUILDDIR=build-asan means the same from anywhere.
ftpa_builddir() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$FTPA_TOP/$1" ;;
	esac
}
