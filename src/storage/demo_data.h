#pragma once
// A small example cluster for trying the processor out: 2 nodes with 8 GPUs and 2 IB devices
// each, a PyTorchJob whose 2 worker pods hold all of them, one finished workload, and a finished
// fine-tuning job with one training run of 600 iterations: three checkpoint saves, a NaN loss, a
// throughput drop and its recovery and a loss spike, which the health detector finds, ending
// five minutes before `now`.

#include <chrono>

#include "absl/status/status.h"
#include "storage/database.h"

namespace tp::storage {

// Creates the schema if needed and inserts the demo rows that are not there yet, so running
// it twice changes nothing.
absl::Status seedDemoCluster(Database& database, std::chrono::system_clock::time_point now);

}  // namespace tp::storage
