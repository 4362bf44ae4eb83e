/* SPDX-License-Identifier: ISC */
#include "proto/msg.h"
