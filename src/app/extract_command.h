#pragma once
// `telemetry-processor extract [FILE]`: reads raw log lines (FILE or standard input) and prints
// one JSON object per recognised line, so an operator can check that a log format is known:
//   {"line": N, "format": NAME, "fields": {...}}   a performance line
//   {"line": N, "event": "StartTrain"}             the start of the training loop
//   {"line": N, "kind": KIND, "format": NAME, "iteration": I, "path": P, "duration_ms": D}
//       a lifecycle line, KIND spelled as pattern types are (end, checkpoint_save_start, ...)
// iteration, path and duration_ms (also on a start line) are there when the line gives them.

#include <istream>
#include <ostream>

#include "training/performance_extractor.h"

namespace tp::app {

// Returns the number of recognised lines.
size_t runExtract(const training::PerformanceExtractor& extractor, std::istream& input,
                  std::ostream& output);

}  // namespace tp::app
