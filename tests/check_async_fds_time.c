/*
 * The async core against the fake agent (fakeagent.h): descriptors
 * travel with their own request; timeouts (the earliest deadline, a
 * transfer's inactivity, job.wait's slices); and the ways of driving
 * the core other than a poll loop: the watch hook, and the blocking
 * face, which a forked agent answers since a blocking call cannot be
 * driven from the thread it blocks. And the rate limits and segments
 * the connection sends with the transfers and sessions it starts.
 */
#include <config.h>

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "fakeagent.h"
#include "check_async.h"
#include "segrec.h"

/* ---- 7. descriptors travel with their own request ------------------------ */

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own */
}

static void
assert_same_file(int got, int orig)
{
	struct stat s1, s2;

	ck_assert_int_eq(fstat(got, &s1), 0);
	ck_assert_int_eq(fstat(orig, &s2), 0);
	ck_assert_msg(s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino,
	    "the fd received is another file");
}

START_TEST(test_fds_with_their_request)
{
	struct stat st;
	struct req q[3];
	uint64_t id[3];
	int fda, fdb, keepa, keepb, base;
	char buf[16], buf2[512];

	base = open_fds();
	fda = temp_file(NULL);
	fdb = temp_file("upload me");
	keepa = dup(fda);	/* to compare with, and to read back */
	keepb = dup(fdb);
	ck_assert_int_eq(lseek(fdb, 0, SEEK_SET), 0);

	id[0] = ftpagent_send_get_fd(a, "s1", "/down", fda, NULL, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	id[2] = ftpagent_send_put_fd(a, "s1", "/up", fdb, NULL, on_reply,
	    &recs[2]);
	ck_assert(id[0] != 0 && id[1] != 0 && id[2] != 0);
	/* the library has its own copies */
	close(fda);
	close(fdb);
	flush();

	agent_req(&q[0], "transfer.get", 1);
	agent_req(&q[1], "agent.ping", 0);
	agent_req(&q[2], "transfer.put", 1);
	ck_assert_str_eq(param_str(&q[0], "path"), "/down");
	ck_assert_str_eq(param_str(&q[2], "path"), "/up");
	ck_assert_int_eq(json_integer_value(json_object_get(q[2].params,
	    "fd")), 0);
	assert_same_file(q[0].fds[0], keepa);
	assert_same_file(q[2].fds[0], keepb);
	/* and they work: the agent writes the download, reads the upload */
	ck_assert_int_eq(write(q[0].fds[0], "got", 3), 3);
	ck_assert_int_eq(fstat(keepa, &st), 0);
	ck_assert_int_eq(st.st_size, 3);
	ck_assert_int_eq(read(q[2].fds[0], buf, sizeof(buf)), 9);
	ck_assert_int_eq(memcmp(buf, "upload me", 9), 0);

	agent_result(q[1].id, "{}");
	agent_result(q[2].id, job_obj(buf2, "j2", "done", "put", 9, 9, -1));
	agent_result(q[0].id, job_obj(buf2, "j1", "done", "get", 3, 3, -1));
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	assert_done(&recs[2], id[2], FTPAGENT_OK);
	ck_assert_int_eq(recs[2].r.xfer.bytes, 9);

	/* the calls done, the library holds no copy any more */
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
	close(keepa);
	close(keepb);
	ck_assert_int_eq(open_fds(), base);
}
END_TEST

/* Up to 4 fds with one send_call, each dup'd; more are refused. */
START_TEST(test_call_fds)
{
	int fds[5], i;
	struct req q;
	uint64_t id;

	for (i = 0; i < 5; i++)
		fds[i] = temp_file(NULL);
	ck_assert_uint_eq(ftpagent_send_call(a, "x.y", "{}", fds, 5, on_reply,
	    &recs[0]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	id = ftpagent_send_call(a, "x.y", "{\"fds\":[0,1,2,3]}", fds, 4,
	    on_reply, &recs[0]);
	ck_assert_uint_ne(id, 0);
	for (i = 0; i < 5; i++)
		close(fds[i]);
	flush();
	agent_req(&q, "x.y", 4);
	agent_result(q.id, "[]");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[0].r.json, "[]");
	req_clear(&q);
}
END_TEST

/* The limit_rate param of the request q, -1 when it has none. */
static json_int_t
limit_param(const struct req *q)
{
	json_t *v = json_object_get(q->params, "limit_rate");

	if (v == NULL)
		return -1;
	ck_assert_msg(json_is_integer(v), "%s: limit_rate is no integer",
	    q->method);
	return json_integer_value(v);
}

/* One call of what; its request's limit_rate; it is then refused. */
static json_int_t
sent_limit(int what, int fd, int dir)
{
	static const char *const methods[] = { "transfer.get",
	    "transfer.put", "transfer.tree", "session.open" };
	struct req q;
	json_int_t v;
	uint64_t id;

	memset(&recs[0], 0, sizeof(recs[0]));
	id = what == 0 ? ftpagent_send_get_fd(a, "s1", "/f", fd, NULL,
	    on_reply, &recs[0]) :
	    what == 1 ? ftpagent_send_put_fd(a, "s1", "/f", fd, NULL,
	    on_reply, &recs[0]) :
	    what == 2 ? ftpagent_send_tree(a, "s1", "/r", dir, NULL,
	    on_reply, &recs[0]) :
	    ftpagent_send_open(a, "ftp://u@h/", NULL, on_reply, &recs[0]);
	ck_assert_msg(id != 0, "%s: %s", methods[what],
	    ftpagent_error_message(a));
	flush();
	agent_req(&q, methods[what], what < 2 ? 1 : 0);
	v = limit_param(&q);
	agent_error(q.id, -32602, "params", "refused");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_ERR_RPC);
	req_clear(&q);
	return v;
}

/* ftpagent_set_limit_rate: every transfer started later carries it,
 * trees too; ftpagent_set_session_limit_rate: session.open, where an
 * explicit 0 (no limit, over the agent's default) is sent as well. */
START_TEST(test_limit_rate)
{
	int fd = temp_file("data"), dir = open(".", O_PATH | O_DIRECTORY);
	int i;

	ck_assert_int_ge(dir, 0);
	for (i = 0; i < 4; i++)
		ck_assert_msg(sent_limit(i, fd, dir) == -1, "call %d sent a "
		    "limit unasked", i);
	ftpagent_set_limit_rate(a, 524288);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(sent_limit(i, fd, dir), 524288);
	/* the job's limit is not the session's */
	ck_assert_int_eq(sent_limit(3, fd, dir), -1);
	ftpagent_set_limit_rate(a, INT64_C(3000000000));
	ck_assert(sent_limit(0, fd, dir) == INT64_C(3000000000));
	ftpagent_set_limit_rate(a, 0);
	ck_assert_int_eq(sent_limit(1, fd, dir), -1);
	ftpagent_set_limit_rate(a, -5);
	ck_assert_int_eq(sent_limit(2, fd, dir), -1);

	ftpagent_set_session_limit_rate(a, 10485760);
	ck_assert_int_eq(sent_limit(3, fd, dir), 10485760);
	ck_assert_int_eq(sent_limit(0, fd, dir), -1);
	ftpagent_set_session_limit_rate(a, 0);
	ck_assert_int_eq(sent_limit(3, fd, dir), 0);
	ftpagent_set_session_limit_rate(a, -1);
	ck_assert_int_eq(sent_limit(3, fd, dir), -1);
	/* NULL is allowed, as for the other setters */
	ftpagent_set_limit_rate(NULL, 1);
	ftpagent_set_session_limit_rate(NULL, 1);
	close(fd);
	close(dir);
}
END_TEST

/* A request's integer param name, -1 when it has none. */
static json_int_t
int_param(const struct req *q, const char *name)
{
	json_t *v = json_object_get(q->params, name);

	if (v == NULL)
		return -1;
	ck_assert_msg(json_is_integer(v), "%s: %s is no integer", q->method,
	    name);
	return json_integer_value(v);
}

/* A get (put with put set) of fd with o, background or not; its
 * request's segments; it is then refused. */
static json_int_t
sent_segments(int fd, bool put, bool bg, const struct ftpagent_xfer_opts *o)
{
	struct req q;
	json_int_t v;
	uint64_t id;

	memset(&recs[0], 0, sizeof(recs[0]));
	if (put)
		id = ftpagent_send_put_fd(a, "s1", "/f", fd, o, on_reply,
		    &recs[0]);
	else if (bg)
		id = ftpagent_send_get_fd_background(a, "s1", "/f", fd, o,
		    on_reply, &recs[0]);
	else
		id = ftpagent_send_get_fd(a, "s1", "/f", fd, o, on_reply,
		    &recs[0]);
	ck_assert_msg(id != 0, "%s", ftpagent_error_message(a));
	flush();
	agent_req(&q, put ? "transfer.put" : "transfer.get", 1);
	v = int_param(&q, "segments");
	agent_error(q.id, -32602, "params", "refused");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_ERR_RPC);
	req_clear(&q);
	return v;
}

/* ftpagent_set_segments: a download into a regular file at its start
 * carries it; one that the agent would refuse so, or that would write
 * elsewhere than from the start, goes without. */
START_TEST(test_segments_fd)
{
	struct ftpagent_xfer_opts o;
	int fd = temp_file(NULL), p[2], fa, moved, ro;
	char path[] = "/tmp/check_async.XXXXXX";

	ck_assert_int_eq(sent_segments(fd, false, false, NULL), -1);
	ftpagent_set_segments(a, 4);
	ck_assert_int_eq(sent_segments(fd, false, false, NULL), 4);
	ck_assert_int_eq(sent_segments(fd, false, true, NULL), 4);
	/* not for an upload, whatever it reads */
	ck_assert_int_eq(sent_segments(fd, true, false, NULL), -1);
	/* nor ASCII, a resume or an offset */
	memset(&o, 0, sizeof(o));
	o.ascii = true;
	ck_assert_int_eq(sent_segments(fd, false, false, &o), -1);
	o.ascii = false;
	o.offset = -1;
	ck_assert_int_eq(sent_segments(fd, false, false, &o), -1);
	o.offset = 5;
	ck_assert_int_eq(sent_segments(fd, false, false, &o), -1);
	/* nor a pipe, O_APPEND, a file not at its start, or read-only */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(sent_segments(p[1], false, false, NULL), -1);
	ck_assert_int_ge(fa = mkstemp(path), 0);
	ck_assert_int_ge(ro = open(path, O_RDONLY), 0);
	ck_assert_int_ge(moved = open(path, O_WRONLY), 0);
	close(fa);
	ck_assert_int_ge(fa = open(path, O_WRONLY | O_APPEND), 0);
	unlink(path);
	ck_assert_int_eq(sent_segments(fa, false, false, NULL), -1);
	ck_assert_int_eq(sent_segments(ro, false, false, NULL), -1);
	ck_assert_int_eq(write(moved, "head", 4), 4);
	ck_assert_int_eq(sent_segments(moved, false, false, NULL), -1);
	ck_assert_int_eq(lseek(moved, 0, SEEK_SET), 0);
	ck_assert_int_eq(sent_segments(moved, false, false, NULL), 4);
	/* beyond the agent's 16: sent, for the agent to refuse */
	ftpagent_set_segments(a, 17);
	ck_assert_int_eq(sent_segments(fd, false, false, NULL), 17);
	ftpagent_set_segments(a, 1);
	ck_assert_int_eq(sent_segments(fd, false, false, NULL), -1);
	ftpagent_set_segments(a, 3);
	ftpagent_set_segments(a, -2);
	ck_assert_int_eq(sent_segments(fd, false, false, NULL), -1);
	ftpagent_set_segments(NULL, 2);
	close(fd);
	close(p[0]);
	close(p[1]);
	close(fa);
	close(ro);
	close(moved);
}
END_TEST

/* What LOCAL's part holds after a get_file (bg: in the background,
 * asking first whether the agent renames when info) that the agent
 * answers with error kind (NULL: done) once it has written "part" into
 * the file; -1 when there is none. The part is LOCAL.part, or for a
 * segmented request LOCAL.segments.part: the file the agent is handed.
 * The request's segments into *segs. */
static off_t
part_after(const char *local, bool bg, bool info, const char *kind,
    json_int_t *segs)
{
	char part[512], buf[256];
	struct stat st, fst;
	struct req q;
	uint64_t id;

	memset(&recs[0], 0, sizeof(recs[0]));
	id = bg ? ftpagent_send_get_file_background(a, "s1", "/f", local,
	    NULL, on_reply, &recs[0]) : ftpagent_send_get_file(a, "s1", "/f",
	    local, NULL, on_reply, &recs[0]);
	ck_assert_msg(id != 0, "%s", ftpagent_error_message(a));
	flush();
	if (info) {
		agent_req(&q, "rpc.info", 0);
		agent_result(q.id, "{\"features\":[]}");
		req_clear(&q);
		ck_assert(drain());
		flush();
	}
	agent_req(&q, "transfer.get", 1);
	*segs = int_param(&q, "segments");
	snprintf(part, sizeof(part), "%s%s", local, *segs > 1 ?
	    ".segments.part" : ".part");
	ck_assert_int_eq(fstat(q.fds[0], &fst), 0);
	ck_assert_int_eq(stat(part, &st), 0);
	ck_assert(st.st_ino == fst.st_ino && st.st_dev == fst.st_dev);
	ck_assert_ptr_null(json_object_get(q.params, "rename"));
	ck_assert_int_eq(write(q.fds[0], "part", 4), 4);
	if (kind == NULL)
		agent_result(q.id, job_obj(buf, "j1", "done", "get", 4, 4, -1));
	else
		agent_error(q.id, -32008, kind, "cancelled");
	ck_assert(drain());
	assert_done(&recs[0], id, kind == NULL ? FTPAGENT_OK :
	    FTPAGENT_ERR_CANCELLED);
	req_clear(&q);
	return stat(part, &st) == 0 ? st.st_size : -1;
}

/* A file's .part: a segmented download goes to LOCAL.segments.part
 * (never LOCAL.part, which a resume continues from its end: its holes
 * would pass for data), left when it did not finish (with the agent's
 * record of its ranges, for a resume), renamed when it did; in the
 * background the agent is not asked to rename it (nor whether it
 * could): the follower's way. */
START_TEST(test_segments_file)
{
	char dir[] = "/tmp/check_async.XXXXXX", local[512];
	struct stat st;
	json_int_t segs = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(local, sizeof(local), "%s/f", dir);
	/* one connection: the .part stays, to be resumed */
	ck_assert_int_eq(part_after(local, false, false, "cancelled",
	    &segs), 4);
	ck_assert_int_eq(segs, -1);
	ftpagent_set_segments(a, 4);
	ck_assert_int_eq(part_after(local, false, false, "cancelled",
	    &segs), 4);
	ck_assert_int_eq(segs, 4);
	ck_assert_int_eq(part_after(local, false, false, NULL, &segs), -1);
	ck_assert_int_eq(stat(local, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(unlink(local), 0);
	/* refused in the background: no job, no follower, the .part as the
	 * agent left it; the agent is not asked whether it renames (it
	 * never does these) */
	ck_assert_int_eq(part_after(local, true, false, "cancelled", &segs),
	    4);
	snprintf(local, sizeof(local), "%s/f.segments.part", dir);
	ck_assert_int_eq(unlink(local), 0);
	snprintf(local, sizeof(local), "%s/f", dir);
	ck_assert_int_eq(segs, 4);
	ftpagent_set_segments(a, 0);
	ck_assert_int_eq(part_after(local, true, true, "cancelled", &segs),
	    4);
	ck_assert_int_eq(segs, -1);
	snprintf(local, sizeof(local), "%s/f.part", dir);
	ck_assert_int_eq(unlink(local), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* rpc.info's features of an agent that continues segmented downloads:
 * a resume into one asks once a connection. */
#define SEG_FEATURES	"[\"transfer.get.segments.resume\"]"

/* Starts a resume (offset -1) of a get_file of local; the agent's first
 * request, which must be method with nfds fds, into *q. The call id. */
static uint64_t
resume_start(const char *local, const char *method, int nfds, struct req *q)
{
	struct ftpagent_xfer_opts o;
	uint64_t id;

	memset(&o, 0, sizeof(o));
	o.offset = -1;
	memset(&recs[0], 0, sizeof(recs[0]));
	id = ftpagent_send_get_file(a, "s1", "/f", local, &o, on_reply,
	    &recs[0]);
	ck_assert_msg(id != 0, "%s", ftpagent_error_message(a));
	flush();
	agent_req_info(q, method, nfds, SEG_FEATURES);
	return id;
}

/* The agent refuses request q of call id: it ends cancelled. */
static void
resume_refuse(struct req *q, uint64_t id)
{
	agent_error(q->id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_ERR_CANCELLED);
	req_clear(q);
}

/* A resume of a get_file: the request's "segments" and "resume", the
 * access mode and inode of the fd the agent is handed and its size then
 * (nothing cut). The agent refuses it. */
static void
resume_request(const char *local, json_int_t *segs, bool *resume,
    int *mode, ino_t *ino, off_t *size)
{
	struct stat st;
	struct req q;
	uint64_t id;

	id = resume_start(local, "transfer.get", 1, &q);
	*segs = int_param(&q, "segments");
	*resume = json_is_true(json_object_get(q.params, "resume"));
	ck_assert_int_ge(*mode = fcntl(q.fds[0], F_GETFL), 0);
	*mode &= O_ACCMODE;
	ck_assert_int_eq(fstat(q.fds[0], &st), 0);
	*ino = st.st_ino;
	*size = st.st_size;
	resume_refuse(&q, id);
}

/* With LOCAL and LOCAL.segments.part there: a resume without segments
 * asks the remote size first (XFER_STAT_ADOPT), not the segmented way.
 * The agent refuses. */
static void
adopt_asked(const char *local, const char *seg)
{
	struct req q;
	uint64_t id;
	int fd;

	ck_assert_int_ge(fd = open(local, O_WRONLY | O_CREAT, 0600), 0);
	ck_assert_int_eq(write(fd, "whole", 5), 5);
	close(fd);
	ck_assert_int_ge(fd = open(seg, O_WRONLY | O_CREAT, 0600), 0);
	close(fd);
	id = resume_start(local, "fs.stat", 0, &q);
	resume_refuse(&q, id);
}

/* A resume into what a segmented download left (fd, or local's
 * .segments.part when local is not NULL: seg, of the same file) with an
 * agent that does not say it continues one: it would ignore "resume"
 * (start over, or write from the start and leave the record), so the
 * call fails, nothing is sent and the file stays as it was. */
static void
seg_resume_refused(int fd, const char *local)
{
	struct ftpagent_xfer_opts o;
	struct stat before, after;
	struct req q;
	uint64_t id;

	ck_assert_int_eq(fstat(fd, &before), 0);
	memset(&o, 0, sizeof(o));
	o.offset = -1;
	memset(&recs[0], 0, sizeof(recs[0]));
	id = local != NULL ? ftpagent_send_get_file(a, "s1", "/f", local, &o,
	    on_reply, &recs[0]) : ftpagent_send_get_fd(a, "s1", "/f", fd, &o,
	    on_reply, &recs[0]);
	ck_assert_msg(id != 0, "%s", ftpagent_error_message(a));
	flush();
	agent_req(&q, "rpc.info", 0);
	agent_result(q.id, "{\"features\":[\"transfer.get.rename\"]}");
	req_clear(&q);
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_ERR_RPC);
	ck_assert_str_eq(recs[0].kind, "params");
	ck_assert_ptr_nonnull(strstr(recs[0].message,
	    "transfer.get.segments.resume"));
	flush();
	agent_no_req(100);
	ck_assert_int_eq(fstat(fd, &after), 0);
	ck_assert_int_eq(after.st_size, before.st_size);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
}

/* get -c of a file whose segmented download stopped: the agent is handed
 * LOCAL.segments.part as it is, readable (its record is at the end), with
 * "resume"; with segments asked, or without when no LOCAL.part is there
 * (then 2, for a part without a record). A LOCAL.part, without segments
 * asked, is resumed as ever; with nothing there, segments asked start
 * a segmented download "resume"d from nothing. */
START_TEST(test_segments_resume_file)
{
	char dir[] = "/tmp/check_async.XXXXXX", local[512], seg[600],
	    part[600];
	json_int_t segs;
	bool resume;
	int mode, fd;
	ino_t ino;
	off_t size;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(local, sizeof(local), "%s/f", dir);
	snprintf(seg, sizeof(seg), "%s.segments.part", local);
	snprintf(part, sizeof(part), "%s.part", local);
	ck_assert_int_ge(fd = open(seg, O_WRONLY | O_CREAT, 0600), 0);
	ck_assert_int_eq(write(fd, "0123456789", 10), 10);
	close(fd);
	ck_assert_int_eq(stat(seg, &st), 0);
	ftpagent_set_segments(a, 4);
	ck_assert_int_ge(fd = open(seg, O_RDONLY), 0);
	seg_resume_refused(fd, local);
	close(fd);
	resume_request(local, &segs, &resume, &mode, &ino, &size);
	ck_assert(resume);
	ck_assert_int_eq(segs, 4);
	ck_assert_int_eq(mode, O_RDWR);
	ck_assert(ino == st.st_ino);
	ck_assert_int_eq(size, 10);
	/* not asked for segments, no LOCAL.part: the same, in 2 */
	ftpagent_set_segments(a, 0);
	resume_request(local, &segs, &resume, &mode, &ino, &size);
	ck_assert(resume);
	ck_assert_int_eq(segs, 2);
	ck_assert(ino == st.st_ino);
	ck_assert_int_eq(size, 10);
	/* a LOCAL.part too: without segments asked, that one, as ever */
	ck_assert_int_ge(fd = open(part, O_WRONLY | O_CREAT, 0600), 0);
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	close(fd);
	resume_request(local, &segs, &resume, &mode, &ino, &size);
	ck_assert(!resume);
	ck_assert_int_eq(segs, -1);
	ck_assert_int_eq(size, 3);
	/* ... and with them, the segmented one */
	ftpagent_set_segments(a, 3);
	resume_request(local, &segs, &resume, &mode, &ino, &size);
	ck_assert(resume);
	ck_assert_int_eq(segs, 3);
	ck_assert(ino == st.st_ino);
	/* nothing there: segments asked, a segmented download of nothing */
	ck_assert_int_eq(unlink(part), 0);
	ck_assert_int_eq(unlink(seg), 0);
	resume_request(local, &segs, &resume, &mode, &ino, &size);
	ck_assert(resume);
	ck_assert_int_eq(segs, 3);
	ck_assert_int_eq(size, 0);
	/* the refused one left its empty part behind: gone */
	ck_assert_int_eq(stat(seg, &st), -1);
	/* LOCAL there beside a LOCAL.segments.part, without segments asked:
	 * LOCAL is what -c takes up (the remote size first), as ever */
	ftpagent_set_segments(a, 0);
	adopt_asked(local, seg);
	ck_assert_int_eq(unlink(seg), 0);
	ck_assert_int_eq(unlink(local), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

enum fd_resume { FR_PLAIN, FR_ASCII, FR_BACKGROUND };

/* A resume (offset -1) of a get_fd of fd (how: in ASCII, in the
 * background): the request's "segments", "resume" and "offset" (-1 when
 * none); the agent refuses it. */
static void
fd_resume_sent_how(int fd, enum fd_resume how, json_int_t *segs,
    bool *resume, json_int_t *offset)
{
	struct ftpagent_xfer_opts o;
	struct req q;
	uint64_t id;

	memset(&o, 0, sizeof(o));
	o.offset = -1;
	o.ascii = how == FR_ASCII;
	memset(&recs[0], 0, sizeof(recs[0]));
	id = how == FR_BACKGROUND ? ftpagent_send_get_fd_background(a, "s1",
	    "/f", fd, &o, on_reply, &recs[0]) : ftpagent_send_get_fd(a, "s1",
	    "/f", fd, &o, on_reply, &recs[0]);
	ck_assert_msg(id != 0, "%s", ftpagent_error_message(a));
	flush();
	agent_req_info(&q, "transfer.get", 1, SEG_FEATURES);
	*segs = int_param(&q, "segments");
	*resume = json_is_true(json_object_get(q.params, "resume"));
	*offset = int_param(&q, "offset");
	resume_refuse(&q, id);
}

#define fd_resume_sent(fd, segs, resume, offset) \
	fd_resume_sent_how((fd), FR_PLAIN, (segs), (resume), (offset))

/* get_fd -c of a file a segmented download left (1000 bytes, then a
 * record for them): continued in ranges ("resume", no offset), in 2
 * without segments asked, in the background too; any other file, one
 * not open for reading (the record cannot be read) or appending, and an
 * ASCII download resume from the size, as ever. */
START_TEST(test_segments_resume_fd)
{
	struct segrec rec = { .size = 1000, .mtime = 7, .n = 2,
	    .r = { { 0, 100, 500 }, { 500, 700, 1000 } } };
	unsigned char buf[SEGREC_SIZE], data[1000] = { 0 };
	char path[] = "/tmp/check_async.XXXXXX";
	json_int_t segs, off;
	bool resume;
	int fd, wo, ap;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_ge(wo = open(path, O_WRONLY), 0);
	ck_assert_int_ge(ap = open(path, O_RDWR | O_APPEND), 0);
	ck_assert_int_eq(unlink(path), 0);
	segrec_encode(&rec, buf);
	ck_assert_int_eq(write(fd, data, sizeof(data)), sizeof(data));
	ck_assert_int_eq(write(fd, buf, sizeof(buf)), sizeof(buf));
	seg_resume_refused(fd, NULL);
	fd_resume_sent(fd, &segs, &resume, &off);
	ck_assert(resume);
	ck_assert_int_eq(segs, 2);
	ck_assert_int_eq(off, -1);
	ftpagent_set_segments(a, 4);
	fd_resume_sent(fd, &segs, &resume, &off);
	ck_assert(resume);
	ck_assert_int_eq(segs, 4);
	fd_resume_sent_how(fd, FR_BACKGROUND, &segs, &resume, &off);
	ck_assert(resume);
	ck_assert_int_eq(segs, 4);
	/* the file untouched: the agent reads the record */
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), 1000 + SEGREC_SIZE);
	/* in ASCII, or appending: as ever, from the size */
	fd_resume_sent_how(fd, FR_ASCII, &segs, &resume, &off);
	ck_assert(!resume);
	ck_assert_int_eq(segs, -1);
	ck_assert_int_eq(off, 1000 + SEGREC_SIZE);
	fd_resume_sent(ap, &segs, &resume, &off);
	ck_assert(!resume);
	ck_assert_int_eq(off, 1000 + SEGREC_SIZE);
	/* open for writing only: the record cannot be read */
	fd_resume_sent(wo, &segs, &resume, &off);
	ck_assert(!resume);
	ck_assert_int_eq(segs, -1);
	ck_assert_int_eq(off, 1000 + SEGREC_SIZE);
	/* a damaged record, then one for another length: no record */
	buf[20] ^= 1;
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 1000), sizeof(buf));
	fd_resume_sent(fd, &segs, &resume, &off);
	ck_assert(!resume);
	ck_assert_int_eq(off, 1000 + SEGREC_SIZE);
	buf[20] ^= 1;
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 1001), sizeof(buf));
	fd_resume_sent(fd, &segs, &resume, &off);
	ck_assert(!resume);
	ck_assert_int_eq(off, 1001 + SEGREC_SIZE);
	/* a file shorter than a record */
	ck_assert_int_eq(ftruncate(fd, 10), 0);
	fd_resume_sent(fd, &segs, &resume, &off);
	ck_assert(!resume);
	ck_assert_int_eq(segs, -1);
	ck_assert_int_eq(off, 10);
	close(fd);
	close(wo);
	close(ap);
}
END_TEST

/* ---- 8. timeouts --------------------------------------------------------- */

START_TEST(test_timeout)
{
	struct req q;
	int64_t t0;
	uint64_t id;
	int t;

	ftpagent_set_timeout(a, 200);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	t0 = now_ms();
	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	t = ftpagent_timeout(a);
	ck_assert_msg(t > 0 && t <= 200, "timeout %d", t);
	flush();
	agent_req(&q, "agent.ping", 0);

	/* wait as a loop does: until ftpagent_timeout says 0 */
	while ((t = ftpagent_timeout(a)) > 0 && now_ms() - t0 < WAIT_MS)
		poll(NULL, 0, t);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(recs[0].runs, 0);
	ck_assert(ftpagent_process(a, 0));
	assert_done(&recs[0], id, FTPAGENT_ERR_TIMEOUT);
	ck_assert_int_ge(now_ms() - t0, 190);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);

	/* the late reply is dropped, the connection goes on */
	agent_result(q.id, "{}");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 1);
	req_clear(&q);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	ck_assert_uint_ne(id, 0);
	flush();
	agent_req(&q, "agent.ping", 0);
	agent_result(q.id, "{}");
	ck_assert(drain());
	assert_done(&recs[1], id, FTPAGENT_OK);
	req_clear(&q);
}
END_TEST

/* The earliest deadline counts; a timed-out call does not take the
 * others with it. */
START_TEST(test_timeout_earliest)
{
	struct req q[2];
	uint64_t id[2];

	ftpagent_set_timeout(a, 300);
	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	poll(NULL, 0, 150);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	ck_assert_int_le(ftpagent_timeout(a), 160);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "agent.ping", 0);
	ck_assert(run_until(&recs[0].runs, 1, WAIT_MS));
	assert_done(&recs[0], id[0], FTPAGENT_ERR_TIMEOUT);
	ck_assert_int_eq(recs[1].runs, 0);
	ck_assert_int_gt(ftpagent_timeout(a), 0);
	agent_result(q[1].id, "{}");
	ck_assert(drain());
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* A transfer's timeout is one of inactivity: progress restarts it; when
 * it passes, the job is cancelled on the agent. */
START_TEST(test_transfer_timeout)
{
	struct req q;
	int64_t t0;
	uint64_t id;
	int fd = temp_file(NULL), i;

	ftpagent_set_timeout(a, 200);
	id = ftpagent_send_get_fd(a, "s1", "/slow", fd, NULL, on_reply,
	    &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	t0 = now_ms();
	for (i = 0; i < 6; i++) {	/* 600 ms of steady progress */
		agent_progress("j8", i, 100, q.id);
		ck_assert(!run_until(&recs[0].runs, 1, 100));
	}
	ck_assert_int_eq(recs[0].runs, 0);
	ck_assert(run_until(&recs[0].runs, 1, WAIT_MS));
	assert_done(&recs[0], id, FTPAGENT_ERR_TIMEOUT);
	ck_assert_int_ge(now_ms() - t0, 690);	/* last progress + 200 */
	agent_expect_job_cancel("j8");
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q);
}
END_TEST

/* job.wait: the deadline is the wait plus the connection's timeout;
 * waiting "until it ends" asks again each time the agent's slice passes,
 * and ends once, with the job. */
START_TEST(test_job_wait_slices)
{
	struct req q;
	uint64_t id;
	char b[512];
	int t, i;

	ftpagent_set_timeout(a, 200);
	id = ftpagent_send_job_wait(a, "j1", 300, on_reply, &recs[0]);
	t = ftpagent_timeout(a);
	ck_assert_msg(t > 300 && t <= 500, "job.wait deadline in %d ms", t);
	ck_assert(ftpagent_cancel(a, id));
	flush();
	agent_req(&q, "job.wait", 0);
	req_clear(&q);

	id = ftpagent_send_job_wait(a, "j1", 0, on_reply, &recs[1]);
	for (i = 0; i < 3; i++) {
		flush();
		agent_req(&q, "job.wait", 0);
		ck_assert_str_eq(param_str(&q, "job"), "j1");
		agent_error(q.id, -32004, "timeout", "not yet");
		req_clear(&q);
		ck_assert(drain());
		ck_assert_int_eq(recs[1].runs, 0);
	}
	flush();
	agent_req(&q, "job.wait", 0);
	agent_result(q.id, job_obj(b, "j1", "done", "get", 9, 9, -1));
	ck_assert(drain());
	assert_done(&recs[1], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[1].r.job.id, "j1");
	ck_assert_int_eq(recs[1].r.job.state, FTPAGENT_JOB_DONE);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q);
}
END_TEST

/* ---- the watch hook ------------------------------------------------------ */

struct watch {
	int		 calls;
	int		 fd;
	unsigned	 events;
	int		 timeout;
};

static void
on_watch(void *arg, int fd, unsigned events, int timeout_ms)
{
	struct watch *w = arg;

	w->calls++;
	w->fd = fd;
	w->events = events;
	w->timeout = timeout_ms;
}

/* What the hook was told last is what the connection says now. */
static void
assert_watch_current(const struct watch *w)
{
	ck_assert_int_gt(w->calls, 0);
	ck_assert_uint_eq(w->events, ftpagent_events(a));
	ck_assert_int_eq(w->timeout < 0, ftpagent_timeout(a) < 0);
	if (w->events != 0)
		ck_assert_int_eq(w->fd, ftpagent_fd(a));
}

START_TEST(test_watch)
{
	static struct watch w;	/* ftpagent_free may still call it */
	struct req q;

	memset(&w, 0, sizeof(w));
	ftpagent_set_watch(a, on_watch, &w);
	ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply, &recs[0]);
	assert_watch_current(&w);
	ck_assert(w.events & FTPAGENT_WRITE);
	ck_assert_int_gt(w.timeout, 0);
	flush();
	assert_watch_current(&w);
	ck_assert_uint_eq(w.events, FTPAGENT_READ);
	agent_req(&q, "agent.ping", 0);
	agent_result(q.id, "{}");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 1);
	assert_watch_current(&w);
	ck_assert_int_lt(w.timeout, 0);
	req_clear(&q);
	/* a failure: stop watching */
	ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply, &recs[1]);
	flush();
	close(agent);
	agent = -1;
	ck_assert(!drain());
	ck_assert_uint_eq(w.events, 0);
	ck_assert_int_lt(w.timeout, 0);
	ftpagent_set_watch(a, NULL, NULL);
}
END_TEST

/* ---- 9. the blocking face on the same core ------------------------------- */

/*
 * The forked agent: answers the two pings first, waits a little, then
 * answers the fs.stat; exits at EOF or after 10 s. A script that goes
 * wrong just hangs up, which fails the blocking call.
 */
static void
blocking_agent(int fd)
{
	struct req q[3], r;
	char out[1024];
	int i, n;

	for (i = 0; i < 3; i++)
		if (!fake_recv_req(fd, &q[i], WAIT_MS))
			_exit(1);
	if (strcmp(q[0].method, "agent.ping") != 0 ||
	    strcmp(q[1].method, "agent.ping") != 0 ||
	    strcmp(q[2].method, "fs.stat") != 0)
		_exit(2);
	n = snprintf(out, sizeof(out),
	    "{\"jsonrpc\":\"2.0\",\"result\":{\"n\":2},\"id\":%lld}\n"
	    "{\"jsonrpc\":\"2.0\",\"result\":{\"n\":1},\"id\":%lld}\n",
	    (long long)q[1].id, (long long)q[0].id);
	if (!fake_send(fd, out, (size_t)n, WAIT_MS))
		_exit(3);
	poll(NULL, 0, 100);
	n = snprintf(out, sizeof(out),
	    "{\"jsonrpc\":\"2.0\",\"result\":{\"name\":\"x\",\"type\":\"file\","
	    "\"size\":77},\"id\":%lld}\n", (long long)q[2].id);
	if (!fake_send(fd, out, (size_t)n, WAIT_MS))
		_exit(4);
	/* the fourth: a ping sent after the blocking call */
	if (!fake_recv_req(fd, &r, WAIT_MS))
		_exit(5);
	poll(NULL, 0, 50);
	n = snprintf(out, sizeof(out),
	    "{\"jsonrpc\":\"2.0\",\"result\":{\"n\":4},\"id\":%lld}\n",
	    (long long)r.id);
	if (!fake_send(fd, out, (size_t)n, WAIT_MS))
		_exit(6);
	(void)fake_recv_req(fd, &r, 10000);	/* until EOF */
	_exit(0);
}

START_TEST(test_blocking_face)
{
	struct ftpagent_entry e;
	uint64_t id[3];
	bool ok;

	child = fork();
	ck_assert_int_ne(child, -1);
	if (child == 0) {
		blocking_agent(agent);
		_exit(0);
	}
	close(agent);
	agent = -1;

	id[0] = ftpagent_send_call(a, "agent.ping", "{\"n\":1}", NULL, 0,
	    on_reply, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", "{\"n\":2}", NULL, 0,
	    on_reply, &recs[1]);
	/* the blocking call writes the queued requests and its own */
	ok = ftpagent_stat(a, "s1", "/x", &e);
	ck_assert_msg(ok, "stat: %s", ftpagent_error_message(a));
	ck_assert_str_eq(e.name, "x");
	ck_assert_int_eq(e.size, 77);
	ftpagent_entry_clear(&e);
	/* the replies that came while it waited have run */
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	ck_assert_str_eq(recs[1].r.json, "{\"n\":2}");
	ck_assert_int_lt(recs[1].seq, recs[0].seq);
	ck_assert_uint_eq(ftpagent_pending(a), 0);

	/* and the async face goes on afterwards */
	id[2] = ftpagent_send_call(a, "agent.ping", "{\"n\":4}", NULL, 0,
	    on_reply, &recs[2]);
	ck_assert(run_until(&recs[2].runs, 1, WAIT_MS));
	assert_done(&recs[2], id[2], FTPAGENT_OK);
}
END_TEST

void
async_fds_time_tcases(Suite *s)
{
	TCase *tc = tcase_create("fds, time, blocking");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fds_with_their_request);
	tcase_add_test(tc, test_call_fds);
	tcase_add_test(tc, test_limit_rate);
	tcase_add_test(tc, test_segments_fd);
	tcase_add_test(tc, test_segments_file);
	tcase_add_test(tc, test_segments_resume_file);
	tcase_add_test(tc, test_segments_resume_fd);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_timeout_earliest);
	tcase_add_test(tc, test_transfer_timeout);
	tcase_add_test(tc, test_job_wait_slices);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_blocking_face);
	suite_add_tcase(s, tc);
}
