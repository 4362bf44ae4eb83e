/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/podrun.h"
#include "cli/render.h"
#include "common/atomicfile.h"
#include "common/podname.h"
#include "common/xmalloc.h"
#include "proto/msg.h"

#define CMD_LOGS_MAX_STATE (1024 * 1024)

/* A segment file being read: bytes after the last full line are kept. */
struct cmd_logs_file {
	int fd;
	char *path;
	char *segment;
	char *buf;
	size_t len;
	size_t cap;
};

/* The pod's current segment: from the daemon, else from its state file. */
static int
cmd_logs_segment(struct cli *cli, const char *name, char **ret_segment)
{
	struct json_object *params, *session = NULL, *state;
	struct client *c;
	struct msg hello, reply;
	const char *seg;
	char *path, *buf = NULL, *err = NULL;
	size_t len;
	int r;

	if (client_connect(cli->paths.control_sock, &c) == 0) {
		r = client_expect(c, "hello", cli->timeout_ms, &hello, &err);
		free(err);
		err = NULL;
		if (r == 0) {
			msg_clear(&hello);
			params = json_object_new_object();
			json_object_object_add(
				params, "name", json_object_new_string(name));
			r = client_call(c, "inspect", params, cli->timeout_ms,
				&reply, &err);
			free(err);
			if (r == 0 && strcmp(reply.name, "error") == 0) {
				cli_print_error_reply(cli, name, &reply);
				msg_clear(&reply);
				client_free(c);
				return CLI_EXIT_FAIL;
			}
			if (r == 0) {
				json_object_object_get_ex(
					reply.params, "session", &session);
				seg = msg_json_str(session, "segment");
				if (seg != NULL) {
					*ret_segment = xstrdup(seg);
					msg_clear(&reply);
					client_free(c);
					return CLI_EXIT_OK;
				}
				msg_clear(&reply);
			}
		}
		client_free(c);
	}
	/* No daemon: the state file says the same. */
	path = paths_pod_state(&cli->paths, name);
	r = atomicfile_read(path, CMD_LOGS_MAX_STATE, &buf, &len);
	if (r < 0) {
		cli_err("no pod %s: cannot read %s: %s (see 'podvisor ls')",
			name, path, strerror(-r));
		free(path);
		return CLI_EXIT_FAIL;
	}
	state = msg_parse_json(buf, len, &err);
	free(buf);
	json_object_object_get_ex(state, "session", &session);
	seg = msg_json_str(session, "segment");
	if (seg == NULL) {
		cli_err("%s has no session segment%s%s", path,
			err != NULL ? ": " : "", err != NULL ? err : "");
		free(err);
		free(path);
		json_object_put(state);
		return CLI_EXIT_FAIL;
	}
	*ret_segment = xstrdup(seg);
	json_object_put(state);
	free(path);
	return CLI_EXIT_OK;
}

static int
cmd_logs_open(struct cli *cli, const char *name, const char *segment,
	struct cmd_logs_file *f)
{
	memset(f, 0, sizeof(*f));
	f->path = paths_segment(&cli->paths, name, segment);
	f->segment = xstrdup(segment);
	f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	return 0;
}

static void
cmd_logs_close(struct cmd_logs_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->segment);
	free(f->buf);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

/* Render every complete line the file has now. */
static void
cmd_logs_drain(struct cmd_logs_file *f, struct render *rd)
{
	struct json_object *entry;
	char *nl, *start, *err = NULL;
	ssize_t n;

	for (;;) {
		if (f->cap - f->len < 65536) {
			f->cap = f->cap == 0 ? 131072 : f->cap * 2;
			f->buf = xreallocarray(f->buf, 1, f->cap);
		}
		n = read(f->fd, f->buf + f->len, f->cap - f->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		f->len += (size_t)n;
	}
	start = f->buf;
	while (f->len > 0 &&
		(nl = memchr(start, '\n', f->len - (size_t)(start - f->buf))) !=
			NULL) {
		if (nl > start) {
			entry = msg_parse_json(
				start, (size_t)(nl - start), &err);
			if (entry != NULL)
				render_entry(rd, entry);
			else
				render_note(rd, "unreadable log line: %s",
					err != NULL ? err : "?");
			free(err);
			err = NULL;
			json_object_put(entry);
		}
		start = nl + 1;
	}
	if (start != f->buf) {
		f->len -= (size_t)(start - f->buf);
		memmove(f->buf, start, f->len);
	}
	fflush(rd->out);
}

/* The newest segment in dir if it sorts after current; caller frees. */
static char *
cmd_logs_newer(const char *dir, const char *current)
{
	struct dirent *de;
	char *best = NULL, *seg;
	size_t len;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 6 || strcmp(de->d_name + len - 6, ".jsonl") != 0)
			continue;
		seg = xstrndup(de->d_name, len - 6);
		if (strcmp(seg, current) > 0 &&
			(best == NULL || strcmp(seg, best) > 0)) {
			free(best);
			best = seg;
		} else {
			free(seg);
		}
	}
	closedir(d);
	return best;
}

/* Follow the file and new segments until Ctrl-C. */
static int
cmd_logs_follow(struct cli *cli, const char *name, struct cmd_logs_file *f,
	struct render *rd)
{
	char *dir = paths_session_dir(&cli->paths, name), *next;
	char evbuf[4096];
	struct pollfd pfd[2];
	int ifd, r;

	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0 ||
		inotify_add_watch(ifd, dir,
			IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) <
			0) {
		cli_err("cannot watch %s: %s", dir, strerror(errno));
		if (ifd >= 0)
			close(ifd);
		free(dir);
		return CLI_EXIT_FAIL;
	}
	podrun_sigint_install();
	for (;;) {
		/* Read first, then look for a newer segment: nothing lost. */
		cmd_logs_drain(f, rd);
		next = cmd_logs_newer(dir, f->segment);
		if (next != NULL) {
			cmd_logs_drain(f, rd);
			cmd_logs_close(f);
			r = cmd_logs_open(cli, name, next, f);
			free(next);
			if (r < 0)
				continue;
			continue;
		}
		pfd[0].fd = ifd;
		pfd[0].events = POLLIN;
		pfd[1].fd = podrun_sigint_fd();
		pfd[1].events = POLLIN;
		poll(pfd, 2, -1);
		if (podrun_sigints > 0)
			break;
		while (read(ifd, evbuf, sizeof(evbuf)) > 0)
			;
	}
	close(ifd);
	free(dir);
	return CLI_EXIT_OK;
}

/* podvisor logs NAME [--follow] */
int
cmd_logs(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_logs_file f;
	struct render rd;
	bool follow = false;
	char *segment = NULL;
	int c, ex = 0, r;

	while ((c = cli_getopt(cli, cmd, argc, argv, "f", opts, &ex)) != -2) {
		if (c == -1)
			return ex;
		if (c == 'f')
			follow = true;
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "expected one NAME");
	if (!podname_valid(argv[optind], NULL))
		return cli_usage_error(cmd, "bad pod name '%s'", argv[optind]);
	r = cmd_logs_segment(cli, argv[optind], &segment);
	if (r != 0)
		return r;
	r = cmd_logs_open(cli, argv[optind], segment, &f);
	free(segment);
	if (r < 0) {
		cli_err("cannot open the session log %s: %s", f.path,
			strerror(-r));
		cmd_logs_close(&f);
		return CLI_EXIT_FAIL;
	}
	render_init(&rd, stdout, cli->tty);
	rd.times = true;
	cmd_logs_drain(&f, &rd);
	r = follow ? cmd_logs_follow(cli, argv[optind], &f, &rd) : CLI_EXIT_OK;
	render_eol(&rd);
	cmd_logs_close(&f);
	return r;
}
