/* SPDX-License-Identifier: ISC */
#include "common/xmalloc.h"
