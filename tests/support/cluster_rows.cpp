#include "support/cluster_rows.h"

#include <gtest/gtest.h>

#include "soci/soci.h"

namespace tp::testing {

void exec(storage::Database& database, const std::string& sql) {
  const absl::Status status = database.run([&sql](soci::session& session) { session << sql; });
  EXPECT_TRUE(status.ok()) << sql << ": " << status;
}

long long queryNumber(storage::Database& database, const std::string& sql) {
  long long number = -1;
  const absl::Status status =
      database.run([&](soci::session& session) { session << sql, soci::into(number); });
  EXPECT_TRUE(status.ok()) << sql << ": " << status;
  return number;
}

void insertPod(storage::Database& database, const std::string& ns, const std::string& name,
               const std::string& uid, const std::string& node, bool running) {
  exec(database,
       "INSERT INTO gpu_pods (namespace, name, node_name, uid, running, deleted) VALUES ('" + ns +
           "', '" + name + "', '" + node + "', '" + uid + "', " + (running ? "TRUE" : "FALSE") +
           ", FALSE)");
  exec(database,
       "INSERT INTO node_container (container_id, container_name, pod_uid, pod_name, "
       "node_name) VALUES ('c-" +
           uid + "', 'main', '" + uid + "', '" + name + "', '" + node + "')");
}

void insertDevice(storage::Database& database, const std::string& pod_uid, const std::string& type,
                  const std::string& name, const std::string& number) {
  exec(database,
       "INSERT INTO node_container_devices (container_id, device_type, device_name, "
       "device_no) VALUES ('c-" +
           pod_uid + "', '" + type + "', '" + name + "', " + number + ")");
}

void insertWorkload(storage::Database& database, const std::string& name, const std::string& uid,
                    const std::string& parent, const std::string& status) {
  exec(database,
       "INSERT INTO gpu_workload (kind, namespace, name, uid, parent_uid, status) "
       "VALUES ('PyTorchJob', 'team', '" +
           name + "', '" + uid + "', '" + parent + "', '" + status + "')");
}

void reference(storage::Database& database, const std::string& workload_uid,
               const std::string& pod_uid) {
  exec(database, "INSERT INTO workload_pod_reference (workload_uid, pod_uid) VALUES ('" +
                     workload_uid + "', '" + pod_uid + "')");
}

void insertRestartedJob(storage::Database& database) {
  insertWorkload(database, "job", "w-job", "", "Running");
  insertWorkload(database, "job-run1", "w-run1", "w-job", "Running");
  insertWorkload(database, "job-run2", "w-run2", "w-job", "Running");
  insertPod(database, "team", "train-0", "pod-0", "node-a", true);
  insertPod(database, "team", "train-1", "pod-1", "node-a", true);
  reference(database, "w-job", "pod-0");
  reference(database, "w-run1", "pod-0");
  reference(database, "w-job", "pod-1");
  reference(database, "w-run2", "pod-1");
}

std::vector<std::string> databaseFlags(const config::DbConfig& db, std::vector<std::string>* env) {
  std::vector<std::string> flags = {"--db.driver=" +
                                    std::string(config::nameOf(config::kDbDriverNames, db.driver))};
  if (db.driver == config::DbDriver::kSqlite) {
    flags.push_back("--db.path=" + db.path);
  } else {
    flags.insert(flags.end(), {"--db.host=" + db.host, "--db.port=" + std::to_string(db.port),
                               "--db.user_name=" + db.user_name, "--db.db_name=" + db.db_name});
    env->push_back("TP_DB_PASSWORD=" + db.password);
  }
  return flags;
}

void insertTrainingPod(storage::Database& database) {
  insertWorkload(database, "job", "w-job", "", "Running");
  insertPod(database, "team", "train-0", "pod-0", "node-a", true);
  insertDevice(database, "pod-0", "gpu", "card0", "0");
  reference(database, "w-job", "pod-0");
}

}  // namespace tp::testing
