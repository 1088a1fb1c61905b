"""The soak test's figures: the line of progress every 10 s and the
summary table at the end, with the verdict (the exit status).

Both read the run's state from the soak_harness.Soak they are given."""
import json
import re
import time

from soak_config import (CALL_TIMEOUT, FD_TOLERANCE, HEAP_TOLERANCE, SECONDS,
                         SEED, SESSION_OPTS, TRANSFERS, fmt_bytes, ftpa, log)
from soak_procs import agent_fd_list


def kill_count(s):
    return sum(srv.kills for srv in s.servers.values())


def log_progress(s, fds, rss):
    c = s.tally.c
    ps = s.proxy_stats_now()
    log("[%4.0fs] %d/%d done: ok %d, failed %d, corrupted %d; "
        "faults %d, kills %d; agent fds %s, RSS %s"
        % (time.monotonic() - s.t0, c["done"], TRANSFERS,
           c["ok"], c["failed"], c["corrupted"],
           sum(ps["faults"].values()), kill_count(s), fds,
           fmt_bytes(rss or 0)))


class Rows(list):
    """The summary's lines: label, value, note."""

    def add(self, label, value, note=""):
        self.append("  %-22s %-12s %s" % (label, value, note))


def transfer_rows(rows, s):
    """What ran, and how it ended."""
    c = s.tally.c
    done = c["done"]
    rows.add("seed", SEED)
    rows.add("time", "%.0f s" % s.elapsed,
             "%.1f transfers/s; %.0f s with set-up and checks at the end"
             % (done / max(s.elapsed, 0.001), time.monotonic() - s.t_start))
    if done < TRANSFERS and not s.agent_dead:
        rows.add("time cap", "%g s" % SECONDS, "reached: %d of %d transfers "
                 "run" % (done, TRANSFERS))
    rows.add("transfers", done, "get %d, put %d; %s; %s" % (
        sum(v for k, v in c.items() if k.startswith("get ")),
        sum(v for k, v in c.items() if k.startswith("put ")),
        ", ".join("%s %d" % (k[4:], v) for k, v in sorted(c.items())
                  if k.startswith("srv ")),
        ", ".join("%s %d" % (h, sum(v for k, v in c.items()
                                    if k.endswith(" " + h)
                                    and k[:4] in ("get ", "put ")))
                  for h in ("fd", "inline", "ftpctl"))))
    rows.add("succeeded", c["ok"],
             "%s moved and checked" % fmt_bytes(c["bytes"]))
    rows.add("failed", c["failed"], "after the session's %d retries"
             % SESSION_OPTS["retries"])
    for k, v in sorted(s.tally.fail_kinds.items()):
        rows.add("", v, "  " + k)
    rows.add("corrupted", c["corrupted"], "success reported, hash differs "
             "(goal 0)")
    rows.add("bad partials", c["bad_partial"], "failure left wrong bytes "
             "(goal 0)")
    rows.add("hung", c["hung"], "no answer in %d s (goal 0)" % CALL_TIMEOUT)
    if c["errors"]:
        rows.add("soak errors", c["errors"])
    if c["resume tried"]:
        rows.add("ftpctl get -c", "%d/%d" % (c["resume ok"],
                                             c["resume tried"]),
                 "failed ftpctl gets finished by get -c")


def fault_rows(rows, s):
    """What the proxy and the server kills did."""
    ps = s.proxy_stats_now()
    faults = ps.get("faults", {})
    conns = ps.get("connections", {})
    rows.add("faults injected", sum(faults.values()),
             ", ".join("%s %d" % kv for kv in sorted(faults.items())))
    rows.add("connections", sum(conns.values()),
             "control %d, data %d; %d refused while a server was down"
             % (conns.get("ctrl", 0), conns.get("data", 0),
                ps.get("refused", 0)))
    rows.add("server kills", kill_count(s), ", ".join(
        "%s %d" % (n, srv.kills) for n, srv in sorted(s.servers.items())))


def agent_rows(rows, s, end, left):
    """The agent at the start and at the end (end: measure()'s (fds,
    RSS, heap), or None when it died); left: its jobs still queued or
    running."""
    if end is not None:
        rows.add("agent fds", "%d -> %d" % (s.base_fds, end[0]),
                 "start -> end (sessions closed); peak %d" % s.peak_fds)
        rows.add("agent RSS", "%s -> %s" % (fmt_bytes(s.base_rss),
                                           fmt_bytes(end[1])),
                 "peak %s" % fmt_bytes(s.peak_rss))
        if s.base_heap and end[2]:
            rows.add("agent heap in use", "%s -> %s" % (
                fmt_bytes(s.base_heap[1]), fmt_bytes(end[2][1])),
                "malloc_stats(); heap from the system %s -> %s" % (
                    fmt_bytes(s.base_heap[0]), fmt_bytes(end[2][0])))
        if s.end_stats is not None:
            rows.add("agent.stats at end", "", json.dumps(s.end_stats))
    if left:
        rows.add("jobs left", len(left), "queued or running after the end "
                 "(goal 0): %s" % " ".join(j["job"] for j in left[:10]))


def log_notes(text):
    """What the agent's log says about retries and reconnects."""
    notes = [(len(re.findall(pat, text)), what) for pat, what in (
        (r"attempt \d+ failed", "retries"),
        (r"server refused connection", "extra connections refused "
         "(the session then holds at most the ones it has)"),
        (r"reconnect failed", "failed reconnects (every queued "
         "transfer of the session fails with the error)"))]
    return "; ".join("%d %s" % n for n in notes)


def fail_reasons(s, end):
    """Why the run failed, from the counts and the agent's figures; logs
    the agent's descriptors when they grew."""
    c = s.tally.c
    reasons = []
    if s.agent_dead:
        reasons.append("the agent died")
    if s.agent_exit:
        reasons.append("the agent's " + s.agent_exit)
    for key, what in (("corrupted", "corrupted"),
                      ("bad_partial", "bad partials"), ("hung", "hung"),
                      ("errors", "soak errors")):
        if c[key]:
            reasons.append("%d %s" % (c[key], what))
    if end is not None and s.base_heap and end[2] and \
            end[2][1] - s.base_heap[1] > HEAP_TOLERANCE:
        reasons.append("agent heap in use grew by %s"
                       % fmt_bytes(end[2][1] - s.base_heap[1]))
    if end is not None and end[0] > s.base_fds + FD_TOLERANCE:
        reasons.append("agent descriptors grew %d -> %d"
                       % (s.base_fds, end[0]))
        log("descriptors at the start:\n  " + "\n  ".join(s.base_fd_list))
        log("descriptors at the end:\n  " +
            "\n  ".join(agent_fd_list(s.agent.pid)))
    return reasons


def log_reasons(text):
    """Why the run failed, from the agent's log."""
    reasons = []
    for mark in ftpa.SANITIZER_MARKS:
        if mark in text:
            reasons.append("sanitizer report in the agent log")
            break
    if "Assertion" in text or "assertion" in text:
        reasons.append("an assertion in the agent log")
    return reasons


def print_summary(rows, tally):
    log("")
    log("soak summary")
    for r in rows:
        log(r.rstrip())
    if tally.examples:
        log("")
        log("failure examples:")
        for kind, ex in sorted(tally.examples.items()):
            for e in ex:
                log("  [%s] %s" % (kind, e[:300]))
    if tally.problems:
        log("")
        log("problems:")
        for p in tally.problems[:50]:
            log("  " + p[:2000])


def report(s, end, left):
    """Prints the summary of the run s (end, left: see agent_rows());
    returns the exit status: 1 when it failed, else 0."""
    rows = Rows()
    transfer_rows(rows, s)
    fault_rows(rows, s)
    agent_rows(rows, s, end, left)
    reasons = fail_reasons(s, end)
    text = s.agent.log_text()
    reasons += log_reasons(text)
    rows.add("agent log", "", log_notes(text))
    rows.add("result", "FAIL" if reasons else "PASS", "; ".join(reasons))
    print_summary(rows, s.tally)
    return 1 if reasons else 0
