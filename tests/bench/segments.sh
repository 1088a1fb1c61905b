# P7 of tests/bench/run (sourced by it): a segmented download over a
# link that caps each TCP connection, as a long-distance one does.
#
#   P7  a file of $seg_mib MiB through tests/bench/ftp_throttle.py, a
#       proxy that caps each data connection at $seg_cap bytes/s each
#       way: ftpctl get on one connection vs $seg_n segments (ftpctl get
#       -n, or transfer.get "segments" through tests/bench/segget.py
#       where ftpctl has no -n yet); lftp pget -n $seg_n through the same
#       proxy as the peer
#
#   BENCH_SEG_MIB   the file's size (default 1024; 64 with BENCH_QUICK=1)
#   BENCH_SEG_CAP   the cap of each data connection, bytes/s (k, M: powers
#                   of 1000; default 25M). Four of them, 100 MB/s, are a
#                   tenth of what the proxy forwards uncapped: about
#                   1 GB/s over 4 connections on a 2-core VM shared with
#                   the agent and vsftpd, where 100 MB/s capped cost the
#                   proxy 6% of a core
#
# Uses run's helpers (timed, median, calc, row, note, judge, mb_s,
# check_file, py_server, ftpctl, stop_pid, forget_pid, ftpa_die) and its
# variables (here, root, out, work, runs, quick, port, bench_user,
# password, sock, lftp_plain).

if [ -n "$quick" ]; then
	seg_mib=${BENCH_SEG_MIB:-64}
else
	seg_mib=${BENCH_SEG_MIB:-1024}
fi
seg_cap=${BENCH_SEG_CAP:-25M}
seg_n=4
seg_port=
seg_pid=
seg_how=	# "ftpctl" or "rpc": how ours asks for segments

# seg_proxy_start: the proxy in front of vsftpd; sets seg_port, seg_pid
seg_proxy_start() {
	py_server ftp_throttle --server "127.0.0.1:$port" --cap "$seg_cap" \
		--log "$work/throttle.log"
	seg_pid=$py_pid
	seg_port=$py_port
}

seg_proxy_stop() {
	stop_pid "$seg_pid"
	forget_pid "$seg_pid"
}

# Whether this ftpctl's get takes -n (its usage, printed for an unknown
# option, names it).
seg_ftpctl_has_n() {
	local usage
	usage=$(ftpctl get --help 2>&1) || true
	grep -Eq -- '(^|[^[:alnum:]-])-n([^[:alnum:]-]|$)' <<<"$usage"
}

seg_one() { ftpctl get bseg:/seg.bin "$1" >/dev/null; }
seg_many() {
	if [ "$seg_how" = ftpctl ]; then
		ftpctl get -n "$seg_n" bseg:/seg.bin "$1" >/dev/null
	else
		/usr/bin/python3 "$here/segget.py" "$sock" bseg /seg.bin \
			"$seg_n" "$1"
	fi
}
seg_lftp() {
	lftp -c "${lftp_plain%:"$port"}:$seg_port; pget -n $seg_n /seg.bin -o $1" \
		>>"$work/lftp.log" 2>&1
}

# seg_check FILE: dies unless FILE is the source, byte for byte
seg_check() {
	check_file "$1" "$root/seg.bin" cmp
	rm -f "$1"
}

segment_figures() {
	local r t_one=() t_many=() t_lftp=() m_one m_many m_lftp size what
	local lftp_ok=1 cap_mb
	steal_mark
	head -c "$((seg_mib << 20))" /dev/urandom >"$root/seg.bin"
	chown "$bench_user:" "$root/seg.bin"
	size=$(stat -c %s "$root/seg.bin")
	what="$seg_mib MiB"
	[ "$seg_mib" -eq 1024 ] && what="1 GiB"
	seg_proxy_start
	cap_mb=$(awk '/ listening on / { for (i = 1; i < NF; i++)
	    if ($i == "cap") print $(i + 1) / 1e6 }' "$work/throttle.log")
	FTPCTL_PASSWORD=$password ftpctl open bseg \
		"ftp://$bench_user@127.0.0.1:$seg_port/" >/dev/null ||
		ftpa_die "ftpctl open through ftp_throttle.py failed"
	seg_how=rpc
	seg_ftpctl_has_n && seg_how=ftpctl
	ftpa_say "P7: $what through a proxy capping each data connection at" \
		"$cap_mb MB/s, 1 vs $seg_n connections ($seg_how), $runs runs"
	for ((r = 1; r <= runs; r++)); do
		rm -f "$out"/seg.*
		timed seg_one "$out/seg.one" ||
			ftpa_die "ftpctl get through the proxy failed"
		t_one+=("$elapsed_us")
		seg_check "$out/seg.one"
		timed seg_many "$out/seg.many" ||
			ftpa_die "the get in $seg_n segments ($seg_how) failed"
		t_many+=("$elapsed_us")
		seg_check "$out/seg.many"
		if [ -n "$lftp_ok" ]; then
			if timed seg_lftp "$out/seg.lftp"; then
				t_lftp+=("$elapsed_us")
				seg_check "$out/seg.lftp"
			else
				lftp_ok=
				ftpa_say "lftp pget through the proxy failed:" \
					"$(tail -3 "$work/lftp.log")"
			fi
		fi
		ftpa_say "run $r (ms): 1 connection $((t_one[r - 1] / 1000))," \
			"$seg_n segments $((t_many[r - 1] / 1000))" \
			"${lftp_ok:+lftp pget $((t_lftp[r - 1] / 1000))}"
	done
	ftpctl close bseg >/dev/null || true
	seg_proxy_stop
	rm -f "$root/seg.bin"
	m_one=$(median "${t_one[@]}")
	m_many=$(median "${t_many[@]}")
	row "P7 $what, $seg_n segments vs 1 conn" \
		"$(mb_s "$size" "$m_many") MB/s" \
		"1 conn $(mb_s "$size" "$m_one") MB/s" \
		"$(calc "$m_one / $m_many" '%.2f')x" ">= 3.5x" \
		"$(judge "$m_one / $m_many" '>=' 3.5)"
	note "(through tests/bench/ftp_throttle.py: each data connection" \
		"capped at $cap_mb MB/s each way, so $seg_n at most" \
		"$(calc "$seg_n * $cap_mb" '%.0f') MB/s; ours on a session open" \
		"through it; every download compared with the source)"
	if [ "$seg_how" = rpc ]; then
		note "(ftpctl get has no -n yet: $seg_n segments asked with" \
			"transfer.get \"segments\" by tests/bench/segget.py)"
	fi
	if [ -n "$lftp_ok" ]; then
		m_lftp=$(median "${t_lftp[@]}")
		row "P7 $what, $seg_n segments vs lftp" \
			"$(mb_s "$size" "$m_many") MB/s" \
			"pget $(mb_s "$size" "$m_lftp") MB/s" \
			"$(calc "$m_lftp / $m_many" '%.2f')x" "-" "-"
		note "(lftp -c 'pget -n $seg_n' through the same proxy, a whole" \
			"process with its logins)"
	else
		note "(lftp pget -n $seg_n through the proxy failed; see" \
			"the lftp.log of the run)"
	fi
}
