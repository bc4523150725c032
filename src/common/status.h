#pragma once
// Early return on error, so that a chain of fallible steps reads as the steps themselves.

#include "absl/status/status.h"

// Evaluates its argument (an absl::Status expression; variadic so that a lambda with commas may
// be part of it) once and returns it from the enclosing function unless OK.
#define TP_RETURN_IF_ERROR(...)                                                       \
  do {                                                                                \
    if (absl::Status tp_status_ = (__VA_ARGS__); !tp_status_.ok()) return tp_status_; \
  } while (false)
