#include "storage/cluster_state.h"

#include <vector>

#include "soci/soci.h"

namespace tp::storage {
namespace {

constexpr size_t kFetchBatch = 5000;

constexpr const char* kDevicePodsQuery =
    "SELECT p.node_name, p.name, p.uid, d.device_type, d.device_name, d.device_no "
    "FROM gpu_pods p "
    "JOIN node_container c ON c.pod_uid = p.uid "
    "JOIN node_container_devices d ON d.container_id = c.container_id "
    "WHERE p.running = TRUE";

constexpr const char* kWorkloadPodsQuery =
    "SELECT p.name, p.uid, w.name, w.uid, w.parent_uid "
    "FROM workload_pod_reference r "
    "JOIN gpu_workload w ON w.uid = r.workload_uid "
    "JOIN gpu_pods p ON p.uid = r.pod_uid "
    "WHERE w.status = 'Running' AND p.running = TRUE";

// A column fetched in batches, NULLs read as empty.
struct TextColumn {
  std::vector<std::string> values = std::vector<std::string>(kFetchBatch);
  std::vector<soci::indicator> nulls = std::vector<soci::indicator>(kFetchBatch);

  std::string take(size_t row) {
    return nulls[row] == soci::i_ok ? std::move(values[row]) : std::string();
  }
  void reset() {
    values.resize(kFetchBatch);
    nulls.resize(kFetchBatch);
  }
};

}  // namespace

absl::Status readDevicePods(Database& database,
                            const std::function<void(const DevicePodRow&)>& on_row) {
  return database.run([&](soci::session& sql) {
    TextColumn node, pod, uid, type, name;
    std::vector<int> number(kFetchBatch);
    std::vector<soci::indicator> number_nulls(kFetchBatch);
    soci::statement statement =
        (sql.prepare << kDevicePodsQuery, soci::into(node.values, node.nulls),
         soci::into(pod.values, pod.nulls), soci::into(uid.values, uid.nulls),
         soci::into(type.values, type.nulls), soci::into(name.values, name.nulls),
         soci::into(number, number_nulls));
    statement.execute();
    DevicePodRow row;
    while (statement.fetch()) {
      for (size_t i = 0; i < node.values.size(); ++i) {
        row.node_name = node.take(i);
        row.pod_name = pod.take(i);
        row.pod_uid = uid.take(i);
        row.device_type = type.take(i);
        row.device_name = name.take(i);
        row.device_no =
            number_nulls[i] == soci::i_ok ? std::optional<int>(number[i]) : std::nullopt;
        on_row(row);
      }
      for (TextColumn* column : {&node, &pod, &uid, &type, &name}) column->reset();
      number.resize(kFetchBatch);
      number_nulls.resize(kFetchBatch);
    }
  });
}

absl::Status readWorkloadPods(Database& database,
                              const std::function<void(const WorkloadPodRow&)>& on_row) {
  return database.run([&](soci::session& sql) {
    TextColumn pod, pod_uid, workload, workload_uid, parent;
    soci::statement statement =
        (sql.prepare << kWorkloadPodsQuery, soci::into(pod.values, pod.nulls),
         soci::into(pod_uid.values, pod_uid.nulls), soci::into(workload.values, workload.nulls),
         soci::into(workload_uid.values, workload_uid.nulls),
         soci::into(parent.values, parent.nulls));
    statement.execute();
    WorkloadPodRow row;
    while (statement.fetch()) {
      for (size_t i = 0; i < pod.values.size(); ++i) {
        row.pod_name = pod.take(i);
        row.pod_uid = pod_uid.take(i);
        row.workload_name = workload.take(i);
        row.workload_uid = workload_uid.take(i);
        row.parent_uid = parent.take(i);
        on_row(row);
      }
      for (TextColumn* column : {&pod, &pod_uid, &workload, &workload_uid, &parent}) {
        column->reset();
      }
    }
  });
}

}  // namespace tp::storage
