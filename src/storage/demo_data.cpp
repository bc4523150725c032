#include "storage/demo_data.h"

#include <string>

#include "common/status.h"
#include "common/strings.h"
#include "soci/soci.h"
#include "storage/schema.h"

namespace tp::storage {
namespace {

constexpr int kNodes = 2;
constexpr int kGpusPerNode = 8;
constexpr int kIbPerNode = 2;
const std::string kJobName = "demo-pretrain";
const std::string kJobUid = "d0000000-0000-4000-b000-000000000001";
const std::string kFinishedName = "demo-eval";
const std::string kFinishedUid = "d0000000-0000-4000-b000-000000000002";
const std::string kNamespace = "demo";

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

}  // namespace

absl::Status seedDemoCluster(Database& database) {
  TP_RETURN_IF_ERROR(ensureSchema(database, nullptr));
  return database.run([](soci::session& sql) {
    soci::transaction transaction(sql);
    insertWorkload(sql, "PyTorchJob", kJobName, kJobUid, kNodes * kGpusPerNode, "Running");
    insertWorkload(sql, "Job", kFinishedName, kFinishedUid, kGpusPerNode, "Succeeded");
    for (int node = 0; node < kNodes; ++node) {
      insertPod(sql, common::concat(kJobName, "-worker-", node), podUid(node + 1),
                common::concat("demo-node-", node), kJobUid, true, kGpusPerNode, kIbPerNode);
    }
    insertPod(sql, common::concat(kFinishedName, "-0"), podUid(kNodes + 1), "demo-node-0",
              kFinishedUid, false, kGpusPerNode, 0);
    transaction.commit();
  });
}

}  // namespace tp::storage
