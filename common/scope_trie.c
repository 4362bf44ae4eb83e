/* SPDX-License-Identifier: ISC */
#include "common/scope.h"
