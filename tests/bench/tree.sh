# P6 of tests/bench/run (sourced by it): mirror of a tree, ftpctl mirror
# against lftp's mirror with the same parallelism, from an empty
# destination each run, and the second run of an unchanged tree.
#
#   P6  a tree of $tree_n small files (4 KiB, in 10 directories) and one
#       of $tree_big_n files of $tree_big_mib MiB: ftpctl mirror -P 4 vs
#       lftp -e 'mirror -P 4'; then each again over an unchanged copy
#
# Uses run's helpers (timed, median, calc, row, note, judge, ftpctl,
# ftpa_die) and its variables (root, out, work, runs, lftp_plain).

tree_par=4

tree_make() {
	local d i
	mkdir "$root/tree_small" "$root/tree_big"
	for ((d = 0; d < 10; d++)); do
		mkdir "$root/tree_small/d$d"
		head -c "$((tree_n / 10 * 4096))" /dev/urandom |
			split -b 4096 -d -a 4 - "$root/tree_small/d$d/f"
	done
	for ((i = 0; i < tree_big_n; i++)); do
		head -c "$((tree_big_mib << 20))" /dev/urandom \
			>"$root/tree_big/b$i.bin"
	done
	chown -R "$bench_user:" "$root/tree_small" "$root/tree_big"
}

tree_ours() {	# src dst
	ftpctl mirror -P "$tree_par" "bplain:/$1" "$2" >/dev/null
}
tree_lftp() {	# src dst
	lftp -c "$lftp_plain; mirror -P $tree_par /$1 $2" >>"$work/lftp.log" 2>&1
}

tree_check() {	# src dst
	diff -r "$root/$1" "$2" >/dev/null ||
		ftpa_die "mirror of $1 into $2 differs from the source"
}

# tree_figure NAME FILES LABEL GOAL_FIRST: the first run into an empty
# directory, then a run over the unchanged copy (small tree only)
tree_figure() {
	local name=$1 nfiles=$2 label=$3 goal=$4 r t_o=() t_l=() u_o=() u_l=()
	local m_o m_l
	steal_mark
	ftpa_say "P6 $name: mirror of $nfiles files, -P $tree_par, $runs runs"
	for ((r = 1; r <= runs; r++)); do
		rm -rf "$out/t_ours" "$out/t_lftp"
		timed tree_ours "$name" "$out/t_ours" ||
			ftpa_die "ftpctl mirror of $name failed"
		t_o+=("$elapsed_us")
		timed tree_lftp "$name" "$out/t_lftp" ||
			ftpa_die "lftp mirror of $name failed; see $work/lftp.log"
		t_l+=("$elapsed_us")
		if [ "$r" -eq "$runs" ]; then
			tree_check "$name" "$out/t_ours"
			tree_check "$name" "$out/t_lftp"
		fi
		[ "$name" = tree_small ] || continue
		timed tree_ours "$name" "$out/t_ours" ||
			ftpa_die "ftpctl mirror of unchanged $name failed"
		u_o+=("$elapsed_us")
		timed tree_lftp "$name" "$out/t_lftp" ||
			ftpa_die "lftp mirror of unchanged $name failed"
		u_l+=("$elapsed_us")
	done
	m_o=$(median "${t_o[@]}")
	m_l=$(median "${t_l[@]}")
	row "P6 $label" "$(calc "$m_o / 1e6" '%.3f') s" \
		"lftp $(calc "$m_l / 1e6" '%.3f') s" \
		"$(calc "$m_l / $m_o" '%.2f')x" ">= ${goal}x" \
		"$(judge "$m_l / $m_o" '>=' "$goal")"
	[ "$name" = tree_small ] || return 0
	m_o=$(median "${u_o[@]}")
	m_l=$(median "${u_l[@]}")
	row "P6 the same, unchanged" "$(calc "$m_o / 1e6" '%.3f') s" \
		"lftp $(calc "$m_l / 1e6" '%.3f') s" \
		"$(calc "$m_l / $m_o" '%.2f')x" ">= 5x" \
		"$(judge "$m_l / $m_o" '>=' 5)"
	note "(each a whole process; ours on a session already open, lftp" \
		"logs in its $tree_par connections each time)"
}

tree_figures() {
	tree_make
	tree_figure tree_small "$tree_n" "mirror $tree_n files x 4 KiB" 2
	tree_figure tree_big "$tree_big_n" \
		"mirror $tree_big_n files x $tree_big_mib MiB" 1
}
