/* SPDX-License-Identifier: ISC */
#include "common/clock.h"
