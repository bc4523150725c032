#include "support/fluentbit_records.h"

#include <cstdio>

namespace tp::testing {

std::string fluentBitRecord(const std::string& pod, const std::string& pod_uid,
                            const std::string& log, double date) {
  std::string escaped;
  for (char c : log) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    if (c == '\x1b') {
      escaped += "\\u001b";
      continue;
    }
    escaped.push_back(c);
  }
  char date_text[32];
  std::snprintf(date_text, sizeof(date_text), "%.6f", date);
  return std::string(R"({"date": )") + date_text + R"(, "stream": "stdout", "logtag": "F", )" +
         R"("log": ")" + escaped + R"(", "kubernetes": {"pod_name": ")" + pod +
         R"(", "namespace_name": "team", "pod_id": ")" + pod_uid +
         R"(", "host": "node-a", "container_name": "pytorch", )" +
         R"("labels": {"training.kubeflow.org/job-name": "job"}}})";
}

std::string startLine(int rank) {
  return "\x1b[32m[20251023 12:39:12][rank-" + std::to_string(rank) +
         "/64][INFO ] [--------trainer.py:2382] : training ...\x1b[0m";
}

std::string performanceLine(long long iteration) {
  return "[20251023 12:40:00][rank-63/64][INFO ] [--------trainer.py:2382] : iteration " +
         std::to_string(iteration) +
         "/ 1000 | consumed samples: " + std::to_string(iteration * 64) +
         " | elapsed time per iteration (ms): 16601.3/17219.3 | hip mem "
         "usage/free/total/usage_ratio: 253.38GB/2.60GB/255.98GB/98.98% | throughput per GPU "
         "(TFLOP/s/GPU): 398.6/384.3 | tokens per GPU (tokens/s/GPU): 1234.5/1200.0 | learning "
         "rate: 1.0E-04 | global batch size: 64 | lm loss: 1.069E+01 | loss scale: 1.0 | grad "
         "norm: 2.345 | number of skipped iterations: 0 | number of nan iterations: 0 |";
}

}  // namespace tp::testing
