/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/conn.h"
#include "proto/msg.h"
#include "supervisord/conf.h"
#include "supervisord/daemon.h"
#include "supervisord/isolation.h"

static struct json_object *
isolation_field(const char *field)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "field", json_object_new_string(field));
	return o;
}

/* spawn's "network"; see isolation.h. */
int
isolation_spawn_params(struct daemon *d, const struct pod *viewer,
	struct conn *c, const struct msg *m, struct pod_isolation *iso)
{
	struct json_object *v = msg_param(m, "network");
	int net;

	if (v != NULL) {
		net = json_object_is_type(v, json_type_string)
			? isolation_network_parse(json_object_get_string(v))
			: -1;
		if (net < 0) {
			conn_send_error(c, m->id, PERR_INVALID_REQUEST,
				isolation_field("network"),
				"\"network\" must be \"on\", \"loopback\" or "
				"\"off\"");
			return -1;
		}
	} else
		net = viewer != NULL ? (int)viewer->iso.network
				     : (int)d->config->network;
	if (viewer != NULL && net < (int)viewer->iso.network) {
		conn_send_error(c, m->id, PERR_NOT_SUBSET,
			isolation_field("network"),
			"\"network\": a child may only narrow its parent's "
			"policy; pod %s has network = %s, so \"%s\" is not "
			"allowed",
			viewer->name,
			isolation_network_name(viewer->iso.network),
			isolation_network_name((enum iso_network)net));
		return -1;
	}
	iso->network = (enum iso_network)net;
	return 0;
}

/* Pod state: "network". */
void
isolation_to_state(const struct pod *p, struct json_object *o)
{
	json_object_object_add(o, "network",
		json_object_new_string(isolation_network_name(p->iso.network)));
}

/* Pod state: "network" (absent: on). */
int
isolation_from_state(struct pod *p, struct json_object *o, char **reterr_msg)
{
	struct json_object *v;
	int net;

	/* State written before issue 17: the network the pod had, on. */
	p->iso.network = ISO_NET_ON;
	if (!json_object_object_get_ex(o, "network", &v) || v == NULL)
		return 0;
	net = json_object_is_type(v, json_type_string)
		? isolation_network_parse(json_object_get_string(v))
		: -1;
	if (net < 0) {
		*reterr_msg =
			xstrdup("bad \"network\": not on, loopback or off");
		return -EINVAL;
	}
	p->iso.network = (enum iso_network)net;
	return 0;
}

/* pod-summary: "network". */
void
isolation_summary(const struct pod *p, struct json_object *o)
{
	json_object_object_add(o, "network",
		json_object_new_string(isolation_network_name(p->iso.network)));
}

/* <state>/tmp/<name> (caller frees). */
char *
isolation_tmp_dir(const struct daemon *d, const char *name)
{
	return xstrfmt("%s/tmp/%s", d->paths.state, name);
}

/* pod-summary and pod-detail: "tmp_dir". */
void
isolation_detail(
	const struct daemon *d, const struct pod *p, struct json_object *o)
{
	char *dir = isolation_tmp_dir(d, p->name);

	json_object_object_add(o, "tmp_dir", json_object_new_string(dir));
	free(dir);
}

/* The start request's "confine" object (new reference). */
struct json_object *
isolation_start_config(const struct daemon *d, const struct pod *p)
{
	struct json_object *o = json_object_new_object();
	char *parent, *dir = isolation_tmp_dir(d, p->name);

	/* The worker makes the pod's dirs; their parent must exist. */
	parent = xstrfmt("%s/tmp", d->paths.state);
	if (mkdir(parent, 0700) < 0 && errno != EEXIST)
		log_warn("cannot make %s: %s", parent, strerror(errno));
	free(parent);
	json_object_object_add(o, "tmp_dir", json_object_new_string(dir));
	json_object_object_add(o, "network",
		json_object_new_string(isolation_network_name(p->iso.network)));
	free(dir);
	return o;
}

/* Remove name inside dirfd and everything beneath, never following links. */
static int
isolation_rmtree_at(int atfd, const char *name, int depth)
{
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	if (unlinkat(atfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (depth > 256)
		return -ELOOP;
	fd = openat(
		atfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
			strcmp(de->d_name, "..") == 0)
			continue;
		/* A directory the pod made unwritable: writable again. */
		(void)fchmodat(
			dirfd(dir), de->d_name, 0700, AT_SYMLINK_NOFOLLOW);
		if (r == 0)
			r = isolation_rmtree_at(
				dirfd(dir), de->d_name, depth + 1);
	}
	closedir(dir);
	if (r == 0 && unlinkat(atfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

/* forget: remove the pod's temp dirs. */
void
isolation_forget(const struct daemon *d, const struct pod *p)
{
	char *dir = isolation_tmp_dir(d, p->name);
	int r;

	(void)chmod(dir, 0700);
	r = isolation_rmtree_at(AT_FDCWD, dir, 0);
	if (r < 0)
		log_warn("pod %s: cannot remove its temp dir %s: %s", p->name,
			dir, strerror(-r));
	free(dir);
}
