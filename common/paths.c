/* SPDX-License-Identifier: ISC */
#include "common/paths.h"
