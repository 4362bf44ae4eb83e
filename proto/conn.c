/* SPDX-License-Identifier: ISC */
#include "proto/conn.h"
