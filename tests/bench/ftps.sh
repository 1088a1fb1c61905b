# P2 and P2u of tests/bench/run (sourced by it): one big file over
# explicit FTPS (TLS 1.3) on the session btls, against curl and lftp,
# with the negotiated cipher's speed on one core as the limit beside them.
#
#   P2   ftpctl get of big.bin ($big_mib MiB) vs curl, lftp get
#   P2u  ftpctl put of it into a fresh remote name each run (in /up) vs
#        curl -T, lftp put
#   P2f, P2uf  the same from tests/bench/ftps_server.py (session bfast),
#        a server that is not the limit: vsftpd's TLS runs in a second
#        process that its first feeds through a socketpair, and on a
#        small machine those two processes set the pace for every client
#        alike (README, "FTPS"); against this server the client does.
#
# Each figure also prints its slowest run against its median (issue 18
# asks for 1.5x at most over 9 runs: BENCH_ONLY="P2 P2u P2f P2uf"
# BENCH_RUNS=9).
#
# Uses run's helpers (timed, median, calc, row, note, judge, mb_s,
# check_file, xfer_failed, wanted, steal_mark, warm_pages, py_server,
# ftpctl, ftpa_say, ftpa_die, stop_pid, forget_pid) and its variables
# (root, out, work, runs, big_mib, bench_user, password, port, cert, key,
# curl_tls, lftp_tls, tls_cipher).

ftps_ran=	# set once P2 or P2u has run: the cipher limit follows them
ftps_sess=btls	# the server of the figure being measured: the agent's
ftps_port=	# session and the port (ftps_at)
ftps_fast_pid=
ftps_fast_port=

# ftps_at vsftpd|fast: the server the next figure measures
ftps_at() {
	if [ "$1" = fast ]; then
		ftps_sess=bfast
		ftps_port=$ftps_fast_port
	else
		ftps_sess=btls
		ftps_port=$port
	fi
}

# ftps_ours|ftps_curl|ftps_lftp get|put NAME: one transfer, into
# $out/NAME (get) or /up/NAME on the server (put)
ftps_ours() {
	if [ "$1" = get ]; then
		ftpctl get "$ftps_sess:/big.bin" "$out/$2"
	else
		ftpctl put "$root/big.bin" "$ftps_sess:/up/$2"
	fi
}
ftps_curl() {
	local url=ftp://127.0.0.1:$ftps_port
	if [ "$1" = get ]; then
		"${curl_tls[@]}" -o "$out/$2" "$url/big.bin"
	else
		"${curl_tls[@]}" -T "$root/big.bin" "$url/up/$2"
	fi
}
ftps_lftp() {
	local cmd="get /big.bin -o $out/$2"
	[ "$1" = put ] && cmd="put $root/big.bin -o /up/$2"
	lftp -c "${lftp_tls%:"$port"}:$ftps_port; $cmd" >>"$work/lftp.log" 2>&1
}

# ftps_fast_start: tests/bench/ftps_server.py on a free port, serving
# $root to the bench's user and password, and the agent's session bfast
ftps_fast_start() {
	[ -z "$ftps_fast_pid" ] || return 0
	py_server ftps_server --root "$root" --cert "$cert" --key "$key" \
		--user "$bench_user" --password "$password"
	ftps_fast_pid=$py_pid
	ftps_fast_port=$py_port
	BENCH_URL=ftpes://$bench_user@127.0.0.1:$ftps_fast_port/ \
		BENCH_PASSWORD=$password BENCH_CA=$cert /usr/bin/python3 -c '
import json, os
e = os.environ
print(json.dumps({"name": "bfast", "url": e["BENCH_URL"],
    "password": e["BENCH_PASSWORD"], "ca_file": e["BENCH_CA"]}))' |
		ftpctl -j call session.open - >/dev/null ||
		ftpa_die "session.open of ftps_server.py failed"
}

ftps_fast_stop() {
	[ -n "$ftps_fast_pid" ] || return 0
	ftpctl close bfast >/dev/null 2>&1 || true
	stop_pid "$ftps_fast_pid"
	forget_pid "$ftps_fast_pid"
	ftps_fast_pid=
}

# ftps_slowest TIMES...: the slowest run's time over the median
ftps_slowest() {
	local max
	max=$(printf '%s\n' "$@" | sort -g | tail -1)
	calc "$max / $(median "$@")" '%.2f'
}

# ftps_figure get|put vsftpd|fast: P2 or P2u, or P2f or P2uf
ftps_figure() {
	local dir=$1 at=$2 r tool name last size what fig label t_ours=() t_curl=()
	local t_lftp=() m_ours m_curl m_lftp m_peer peer s_ours s_curl s_lftp
	local got g_curl='>= 1x' j_curl=-	# issue 7's goal for P2
	local warm_mib=$((big_mib + big_mib / 4))
	steal_mark
	size=$(stat -c %s "$root/big.bin")
	what="$big_mib MiB"
	[ "$big_mib" -eq 1024 ] && what="1 GiB"
	fig=P2
	label="P2 $what FTPS"
	if [ "$dir" = put ]; then
		fig=P2u
		label="P2u $what FTPS upload"
		g_curl=-
		mkdir -p "$root/up"
		chown "$bench_user:" "$root/up"
	fi
	ftps_at "$at"
	if [ "$at" = fast ]; then
		fig=${fig}f
		label="P2f $what, fast server"
		[ "$dir" = put ] && label="P2uf $what up, fast server"
		g_curl=-
	fi
	ftpa_say "$fig: $what FTPS ($dir) from $at, $runs runs"
	for ((r = 1; r <= runs; r++)); do
		last=
		[ "$r" -eq "$runs" ] && last="cmp"
		for tool in ours curl lftp; do
			name=big.$tool.$r
			got=$out/$name
			[ "$dir" = put ] && got=$root/up/$name
			warm_pages "$warm_mib"
			timed "ftps_$tool" "$dir" "$name" >/dev/null ||
				xfer_failed "$fig" "$tool"
			case $tool in
			ours) t_ours+=("$elapsed_us") ;;
			curl) t_curl+=("$elapsed_us") ;;
			lftp) t_lftp+=("$elapsed_us") ;;
			esac
			check_file "$got" "$root/big.bin" "$last"
			rm -f "$got"
		done
		ftpa_say "run $r (ms): ours $((t_ours[r - 1] / 1000))" \
			"curl $((t_curl[r - 1] / 1000)) lftp $((t_lftp[r - 1] / 1000))"
	done
	m_ours=$(median "${t_ours[@]}")
	m_curl=$(median "${t_curl[@]}")
	m_lftp=$(median "${t_lftp[@]}")
	[ "$g_curl" = - ] || j_curl=$(judge "$m_curl / $m_ours" '>=' 1)
	row "$label: MB/s vs curl" "$(mb_s "$size" "$m_ours") MB/s" \
		"curl $(mb_s "$size" "$m_curl") MB/s" \
		"$(calc "$m_curl / $m_ours" '%.2f')x" "$g_curl" "$j_curl"
	row "$label: MB/s vs lftp" "$(mb_s "$size" "$m_ours") MB/s" \
		"lftp $(mb_s "$size" "$m_lftp") MB/s" \
		"$(calc "$m_lftp / $m_ours" '%.2f')x" "-" "-"
	peer=curl
	m_peer=$m_curl
	if awk "BEGIN { exit !($m_lftp < $m_curl) }"; then
		peer=lftp
		m_peer=$m_lftp
	fi
	row "$label: vs faster peer" "$(mb_s "$size" "$m_ours") MB/s" \
		"$peer $(mb_s "$size" "$m_peer") MB/s" \
		"$(calc "$m_peer / $m_ours" '%.2f')x" ">= 1.2x" \
		"$(judge "$m_peer / $m_ours" '>=' 1.2)"
	s_ours=$(ftps_slowest "${t_ours[@]}")
	s_curl=$(ftps_slowest "${t_curl[@]}")
	s_lftp=$(ftps_slowest "${t_lftp[@]}")
	row "$fig slowest run/median" "${s_ours}x" "" "" "<= 1.5x" \
		"$(judge "$s_ours" '<=' 1.5)"
	note "(curl ${s_curl}x$(ftps_flag "$s_curl"), lftp" \
		"${s_lftp}x$(ftps_flag "$s_lftp"); ours, run by run:" \
		"$(ftps_ms "${t_ours[@]}") ms)"
	ftps_ran=1
}

# ftps_flag RATIO: a mark when a peer's slowest run was over 1.5x its
# median (that median, and the ratios against it, are then less sure)
ftps_flag() {
	[ "$(judge "$1" '>' 1.5)" = met ] || return 0
	printf ' (over 1.5x)'
}

ftps_ms() {	# microseconds...: in whole milliseconds, on one line
	local t ms=()
	for t in "$@"; do
		ms+=("$((t / 1000))")
	done
	printf '%s\n' "${ms[*]}"
}

# The TLS 1.3 cipher suite's bulk cipher, as openssl speed -evp names it
ftps_evp() {
	case $1 in
	TLS_AES_256_GCM_SHA384) echo aes-256-gcm ;;
	TLS_AES_128_GCM_SHA256) echo aes-128-gcm ;;
	TLS_CHACHA20_POLY1305_SHA256) echo chacha20-poly1305 ;;
	*) return 1 ;;
	esac
}

# The cipher limit: openssl speed -evp on 16 KiB blocks (a full TLS
# record), in CPU time of one core; -mr's +F line gives bytes/s.
ftps_limit() {
	local evp bps
	steal_mark
	if ! evp=$(ftps_evp "${tls_cipher:-}"); then
		note "(no cipher limit: cipher ${tls_cipher:-unknown} not known)"
		return 0
	fi
	ftpa_say "P2: openssl speed -evp $evp"
	bps=$(openssl speed -evp "$evp" -bytes 16384 -seconds 2 -mr \
		2>/dev/null | awk -F: '/^\+F:/ { print $4 }')
	[ -n "$bps" ] || ftpa_die "openssl speed -evp $evp printed no figure"
	row "P2 cipher limit (one core)" "" \
		"openssl $(calc "$bps / 1e6" '%.0f') MB/s" "" "" ""
	note "(openssl speed -evp $evp -bytes 16384: encryption, CPU time of" \
		"one core; the agent negotiated $tls_cipher)"
	note "($(nproc) cores here for the client, the agent and vsftpd;" \
		"one side encrypts each byte, the other decrypts it)"
}

ftps_figures() {
	if wanted P2; then ftps_figure get vsftpd; fi
	if wanted P2u; then ftps_figure put vsftpd; fi
	if wanted P2f || wanted P2uf; then ftps_fast_start; fi
	if wanted P2f; then ftps_figure get fast; fi
	if wanted P2uf; then ftps_figure put fast; fi
	ftps_fast_stop
	if [ -n "$ftps_ran" ]; then ftps_limit; fi
}
