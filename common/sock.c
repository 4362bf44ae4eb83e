/* SPDX-License-Identifier: ISC */
#include "common/sock.h"
