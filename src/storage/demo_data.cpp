#include "storage/demo_data.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/strings.h"
#include "soci/soci.h"
#include "storage/schema.h"
#include "storage/training_rows.h"

namespace tp::storage {
namespace {

constexpr int kNodes = 2;
constexpr int kGpusPerNode = 8;
constexpr int kIbPerNode = 2;
const std::string kJobName = "demo-pretrain";
const std::string kJobUid = "d0000000-0000-4000-b000-000000000001";
const std::string kFinishedName = "demo-eval";
const std::string kFinishedUid = "d0000000-0000-4000-b000-000000000002";
const std::string kFineTuneName = "demo-finetune";
const std::string kFineTuneUid = "d0000000-0000-4000-b000-000000000003";
const std::string kNamespace = "demo";

// The fine-tuning run: a step every 2 s, slower during the throughput drop, and 30 s per save.
constexpr int64_t kRunIterations = 600;
constexpr int64_t kSaveEvery = 200;
constexpr int64_t kStepMs = 2000;
constexpr int64_t kSaveMs = 30'000;
constexpr int64_t kNanIteration = 300;
constexpr int64_t kDropFirst = 420, kDropLast = 470;  // throughput 40 % lower
constexpr int64_t kSpikeIteration = 520;              // loss 4 times the usual
constexpr int64_t kEndedBeforeNowMs = int64_t{5} * 60'000;

std::string podUid(int index) {
  return common::concat("d0000000-0000-4000-a000-00000000000", index);
}

bool exists(soci::session& sql, const char* table, const char* column, const std::string& value) {
  int count = 0;
  sql << common::concat("SELECT count(*) FROM ", table, " WHERE ", column, " = :v"),
      soci::use(value), soci::into(count);
  return count > 0;
}

void insertWorkload(soci::session& sql, const std::string& kind, const std::string& name,
                    const std::string& uid, int gpus, const std::string& status) {
  if (exists(sql, "gpu_workload", "uid", uid)) return;
  const std::string group_version = kind == "PyTorchJob" ? "kubeflow.org/v1" : "batch/v1";
  sql << "INSERT INTO gpu_workload (group_version, kind, namespace, name, uid, parent_uid, "
         "gpu_request, status) VALUES (:gv, :kind, :ns, :name, :uid, '', :gpus, :status)",
      soci::use(group_version), soci::use(kind), soci::use(kNamespace), soci::use(name),
      soci::use(uid), soci::use(gpus), soci::use(status);
}

void insertPod(soci::session& sql, const std::string& name, const std::string& uid,
               const std::string& node, const std::string& workload_uid, bool running, int gpus,
               int ib_devices) {
  if (exists(sql, "gpu_pods", "uid", uid)) return;
  const std::string phase = running ? "Running" : "Succeeded";
  const int running_flag = running ? 1 : 0;
  sql << "INSERT INTO gpu_pods (namespace, name, node_name, uid, gpu_allocated, phase, running, "
         "deleted, owner_uid) VALUES (:ns, :name, :node, :uid, :gpus, :phase, :running, FALSE, "
         ":owner)",
      soci::use(kNamespace), soci::use(name), soci::use(node), soci::use(uid), soci::use(gpus),
      soci::use(phase), soci::use(running_flag), soci::use(workload_uid);
  const std::string container_id = common::concat("demo-container-", uid.substr(uid.size() - 4));
  const std::string container_name = "pytorch";
  sql << "INSERT INTO node_container (container_id, container_name, pod_uid, pod_name, "
         "pod_namespace, status, node_name) VALUES (:id, :cname, :uid, :name, :ns, :status, "
         ":node)",
      soci::use(container_id), soci::use(container_name), soci::use(uid), soci::use(name),
      soci::use(kNamespace), soci::use(phase), soci::use(node);
  for (int gpu = 0; gpu < gpus; ++gpu) {
    const std::string device_name = common::concat("card", gpu);
    sql << "INSERT INTO node_container_devices (container_id, device_type, device_name, "
           "device_no) VALUES (:id, 'gpu', :name, :no)",
        soci::use(container_id), soci::use(device_name), soci::use(gpu);
  }
  for (int ib = 0; ib < ib_devices; ++ib) {
    const std::string device_name = common::concat("mlx5_", ib);
    sql << "INSERT INTO node_container_devices (container_id, device_type, device_name, "
           "device_no) VALUES (:id, 'ib', :name, :no)",
        soci::use(container_id), soci::use(device_name), soci::use(ib);
  }
  sql << "INSERT INTO workload_pod_reference (workload_uid, pod_uid) VALUES (:w, :p)",
      soci::use(workload_uid), soci::use(uid);
}

int64_t stepMs(int64_t iteration) {
  return iteration >= kDropFirst && iteration <= kDropLast ? kStepMs * 5 / 3 : kStepMs;
}

// The document the training writer would store for the iteration's line (Primus's fields).
std::string performanceOf(int64_t iteration) {
  const auto at = static_cast<double>(iteration);
  const double progress = at / static_cast<double>(kRunIterations);
  // A smooth fall with a small deterministic wobble, so that the chart looks like a run.
  double loss = 2.1 + 7.9 * std::exp(-6.0 * progress) + 0.05 * std::sin(at * 0.7);
  if (iteration == kSpikeIteration) loss *= 4;
  const auto step = static_cast<double>(stepMs(iteration));
  const double step_ms = step + 15 * std::sin(at * 1.3);
  const double tflops = 402.0 * static_cast<double>(kStepMs) / step + 2 * std::sin(at * 0.9);
  const double warmup = std::min(1.0, at / 50.0);
  const double learning_rate = 3e-4 * warmup * 0.5 * (1 + std::cos(M_PI * progress));
  const std::string loss_text =
      iteration == kNanIteration ? std::string(R"("NaN")") : common::concat(loss);
  return common::concat(
      R"({"current_iteration":)", iteration, R"(,"target_iteration":)", kRunIterations,
      R"(,"consumed_samples":)", iteration * 64, R"(,"elapsed_time_per_iteration_ms":)", step_ms,
      R"(,"mem_usages":)", 151.2 + 0.4 * std::sin(at * 0.05), R"(,"tflops":)", tflops,
      R"(,"tokens_per_gpu":)", tflops * 20.1, R"(,"learning_rate":)", learning_rate,
      R"(,"global_batch_size":64,"lm_loss":)", loss_text, R"(,"grad_norm":)",
      1.1 + 0.3 * std::cos(at * 0.4), R"(,"skipped_iterations_number":0,)",
      R"("nan_iterations_number":)", iteration == kNanIteration ? 1 : 0, "}");
}

// The run through the training writer's own inserts, each insert-if-absent, so that seeding
// again leaves the rows of the first seeding as they are.
absl::Status seedDemoTraining(Database& database, std::chrono::system_clock::time_point now) {
  int64_t total_ms = 0;
  for (int64_t iteration = 1; iteration <= kRunIterations; ++iteration) {
    total_ms += stepMs(iteration) + (iteration % kSaveEvery == 0 ? kSaveMs : 0);
  }
  const int64_t end_us =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() -
      kEndedBeforeNowMs * 1000;
  const int64_t start_us = end_us - total_ms * 1000;
  const std::string pod_uid = podUid(kNodes + 2);
  const RunEvent start{kFineTuneUid, kFineTuneUid, pod_uid, 1, start_us};
  TP_RETURN_IF_ERROR(insertStartTrainEvents(database, std::span(&start, 1)).status());
  std::vector<PerformanceRow> rows;
  std::vector<CheckpointLine> save_starts, save_ends;
  int64_t time_us = start_us;
  for (int64_t iteration = 1; iteration <= kRunIterations; ++iteration) {
    time_us += stepMs(iteration) * 1000;
    rows.push_back({kFineTuneUid, pod_uid, performanceOf(iteration), iteration, 1, time_us});
    if (iteration % kSaveEvery == 0) {
      const std::string path = common::concat("/ckpt/", kFineTuneName, "/iter_000", iteration);
      save_starts.push_back({kFineTuneUid, pod_uid, 1, iteration, path, CheckpointOperation::kSave,
                             time_us, std::nullopt});
      time_us += kSaveMs * 1000;
      save_ends.push_back({kFineTuneUid, pod_uid, 1, iteration, path, CheckpointOperation::kSave,
                           time_us, kSaveMs});
    }
  }
  constexpr size_t kChunk = 200;
  for (size_t first = 0; first < rows.size(); first += kChunk) {
    const auto chunk = std::span(rows).subspan(first, std::min(kChunk, rows.size() - first));
    TP_RETURN_IF_ERROR(insertPerformanceRows(database, chunk).status());
  }
  TP_RETURN_IF_ERROR(insertCheckpointStarts(database, save_starts).status());
  TP_RETURN_IF_ERROR(completeCheckpoints(database, save_ends).status());
  const RunEvent end{kFineTuneUid, kFineTuneUid, pod_uid, 1, time_us};
  return insertEndTrainEvents(database, std::span(&end, 1)).status();
}

}  // namespace

absl::Status seedDemoCluster(Database& database, std::chrono::system_clock::time_point now) {
  TP_RETURN_IF_ERROR(ensureSchema(database, nullptr));
  TP_RETURN_IF_ERROR(database.run([](soci::session& sql) {
    soci::transaction transaction(sql);
    insertWorkload(sql, "PyTorchJob", kJobName, kJobUid, kNodes * kGpusPerNode, "Running");
    insertWorkload(sql, "Job", kFinishedName, kFinishedUid, kGpusPerNode, "Succeeded");
    for (int node = 0; node < kNodes; ++node) {
      insertPod(sql, common::concat(kJobName, "-worker-", node), podUid(node + 1),
                common::concat("demo-node-", node), kJobUid, true, kGpusPerNode, kIbPerNode);
    }
    insertPod(sql, common::concat(kFinishedName, "-0"), podUid(kNodes + 1), "demo-node-0",
              kFinishedUid, false, kGpusPerNode, 0);
    insertWorkload(sql, "PyTorchJob", kFineTuneName, kFineTuneUid, kGpusPerNode, "Succeeded");
    insertPod(sql, common::concat(kFineTuneName, "-worker-0"), podUid(kNodes + 2), "demo-node-1",
              kFineTuneUid, false, kGpusPerNode, 0);
    transaction.commit();
  }));
  return seedDemoTraining(database, now);
}

}  // namespace tp::storage
