/* SPDX-License-Identifier: ISC */
#include "proto/dispatch.h"
