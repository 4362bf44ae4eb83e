/* SPDX-License-Identifier: ISC */
/*
 * The isolation values as config and requests spell them, apart from
 * isolation.c so that conf.c (and its fuzz target) needs nothing more.
 */
#include <string.h>

#include "supervisord/isolation.h"

int
isolation_network_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "on") == 0)
		return ISO_NET_ON;
	if (strcmp(s, "loopback") == 0)
		return ISO_NET_LOOPBACK;
	if (strcmp(s, "off") == 0)
		return ISO_NET_OFF;
	return -1;
}

const char *
isolation_network_name(enum iso_network net)
{
	switch (net) {
	case ISO_NET_LOOPBACK:
		return "loopback";
	case ISO_NET_OFF:
		return "off";
	case ISO_NET_ON:
		break;
	}
	return "on";
}
