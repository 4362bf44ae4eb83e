/* SPDX-License-Identifier: ISC */
#include "common/atomicfile.h"
