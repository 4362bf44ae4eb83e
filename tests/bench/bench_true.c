/* SPDX-License-Identifier: ISC */
/*
 * The spawn baseline: a trivial program (linked statically when libc.a is
 * available) that exits at once, or with an argument waits in pause() so
 * its memory can be read as an idle-process figure.
 */
#include <unistd.h>

int
main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		pause();
	return 0;
}
