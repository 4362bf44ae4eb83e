/* SPDX-License-Identifier: ISC */
#include "common/id.h"
