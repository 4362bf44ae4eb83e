/* SPDX-License-Identifier: ISC */
#include "common/log.h"
