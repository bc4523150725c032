#include "logs_batches.h"

namespace tp::bench {
namespace {

std::string jsonEscaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\x1b') {
      out += "\\u001b";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string podName(int pod) { return "pretrain-llama-70b-worker-" + std::to_string(pod); }
std::string podUid(int pod) { return "9f1c2b3a-0000-4000-8000-0000000000" + std::to_string(pod); }
std::string nodeName(int pod) { return "gpu-node-" + std::to_string(pod); }

std::vector<std::string> mixedLines(int first_iteration) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < kRecordsPerBatch; ++i) {
    if (i % 5 == 0) {
      lines.push_back(
          "\x1b[32m20251023 12:39:12\x1b[0m][\x1b[36mrank-63/64\x1b[0m][\x1b[1mINFO \x1b[0m] "
          "\x1b[1m[--------trainer.py:2382] :  iteration      " +
          std::to_string(first_iteration + static_cast<int>(i)) +
          "/   40000 | consumed samples:        27136 | elapsed time per iteration (ms): "
          "16601.3/17219.3 | hip mem usage/free/total/usage_ratio: 253.38GB/2.60GB/255.98GB/98.98% "
          "| throughput per GPU (TFLOP/s/GPU): 11.9/11.5 | tokens per GPU (tokens/s/GPU): "
          "246.7/238.1 | learning rate: 9.997254E-06 | global batch size:    64 | lm loss: "
          "4.447942E+00 | loss scale: 1.0 | grad norm: 6.142 | num zeros: 960902016.0 | number of "
          "skipped iterations:   0 | number of nan iterations:   0 |\x1b[0m");
    } else {
      lines.push_back("[20251023 12:39:12][rank-" + std::to_string(i % 64) +
                      "/64][INFO ] [--------data_loader.py:120] : loaded shard " +
                      std::to_string(i) +
                      " of the training dataset from /mnt/data/tokens/shard-000123.bin "
                      "(4096 sequences, 8192 tokens each) in 0.42 s; prefetch queue depth 8, "
                      "pinned memory on, workers 16");
    }
  }
  return lines;
}

std::string fluentBitBatch(int first_iteration) {
  std::string body = "[";
  const std::vector<std::string> lines = mixedLines(first_iteration);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int pod = static_cast<int>(i % kPods);
    if (i != 0) body += ",";
    body +=
        // 10 ms apart: each line its own millisecond, as the training series' timestamps need.
        R"({"date":)" + std::to_string(1761223152 + i / 100) + "." + std::to_string(100 + i % 100) +
        "0000" + R"(,"stream":"stdout","logtag":"F","log":")" + jsonEscaped(lines[i]) +
        R"(","kubernetes":{"pod_name":")" + podName(pod) +
        R"(","namespace_name":"team-llm","pod_id":")" + podUid(pod) +
        R"(","labels":{"training.kubeflow.org/job-name":"pretrain-llama-70b",)"
        R"("training.kubeflow.org/replica-type":"worker"},"host":")" +
        nodeName(pod) +
        R"(","container_name":"pytorch","docker_id":"3f5e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",)"
        R"("container_hash":"registry.local/primus@sha256:0123456789abcdef",)"
        R"("container_image":"registry.local/primus:v0.4.0"}})";
  }
  return body + "]";
}

std::shared_ptr<const cache::ClusterSnapshot> batchCluster() {
  cache::SnapshotBuilder builder;
  for (int pod = 0; pod < kPods; ++pod) {
    builder.addWorkloadPod({podName(pod), podUid(pod), "pretrain-llama-70b", kJobUid, ""});
    builder.addWorkloadPod(
        {podName(pod), podUid(pod), "pretrain-llama-70b-run1", kRunUid, kJobUid});
  }
  return builder.build();
}

}  // namespace tp::bench
