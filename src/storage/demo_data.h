#pragma once
// A small example cluster for trying the processor out: 2 nodes with 8 GPUs and 2 IB devices
// each, a PyTorchJob whose 2 worker pods hold all of them, and one finished workload.

#include "absl/status/status.h"
#include "storage/database.h"

namespace tp::storage {

// Creates the schema if needed and inserts the demo rows that are not there yet, so running
// it twice changes nothing.
absl::Status seedDemoCluster(Database& database);

}  // namespace tp::storage
