#pragma once
// Early return on error, so that a chain of fallible steps reads as the steps themselves.

#include "absl/status/status.h"

// Evaluates `expr` (an absl::Status) once and returns it from the enclosing function unless OK.
#define TP_RETURN_IF_ERROR(expr)                                               \
  do {                                                                         \
    if (absl::Status tp_status_ = (expr); !tp_status_.ok()) return tp_status_; \
  } while (false)
