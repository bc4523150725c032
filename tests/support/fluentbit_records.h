#pragma once
// Fluent Bit records as the processor receives them at /logs, carrying Primus training lines.

#include <string>

namespace tp::testing {

// One record of `pod` (kubernetes.pod_id `pod_uid`, host node-a) with the message `log`.
std::string fluentBitRecord(const std::string& pod, const std::string& pod_uid,
                            const std::string& log, double date = 1761223152.123456);

// Megatron's training-loop start marker, behind Primus's prefix and colour codes.
std::string startLine(int rank);

// A Primus HIP iteration line with every field.
std::string performanceLine(long long iteration);

}  // namespace tp::testing
