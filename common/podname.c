/* SPDX-License-Identifier: ISC */
#include "common/podname.h"
