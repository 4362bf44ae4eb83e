/* SPDX-License-Identifier: ISC */
#include "proto/frame.h"
