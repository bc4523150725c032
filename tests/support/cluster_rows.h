#pragma once
// Writes Lens cluster-state rows (pods, containers, devices, workloads, references) for
// integration tests, and the processor flags that point it at a test database.

#include <string>
#include <vector>

#include "config/config.h"
#include "storage/database.h"

namespace tp::testing {

// Runs one statement; a failure fails the calling test, which goes on.
void exec(storage::Database& database, const std::string& sql);
// One count(*) style number.
long long queryNumber(storage::Database& database, const std::string& sql);

void insertPod(storage::Database& database, const std::string& ns, const std::string& name,
               const std::string& uid, const std::string& node, bool running);
void insertDevice(storage::Database& database, const std::string& pod_uid, const std::string& type,
                  const std::string& name, const std::string& number);
void insertWorkload(storage::Database& database, const std::string& name, const std::string& uid,
                    const std::string& parent, const std::string& status);
void reference(storage::Database& database, const std::string& workload_uid,
               const std::string& pod_uid);

// The cluster most tests need: pod train-0 (uid pod-0) on node-a with GPU 0 (card0), owned by the
// running PyTorchJob "job" (uid w-job).
void insertTrainingPod(storage::Database& database);

// A PyTorchJob "job" (uid w-job) run first under the leaf workload w-run1 (pod train-0, uid
// pod-0), then, restarted, under w-run2 (pod train-1, uid pod-1), all Running, in namespace team
// on node-a.
void insertRestartedJob(storage::Database& database);

// --db.* flags for the processor (the password goes in the environment: `env`).
std::vector<std::string> databaseFlags(const config::DbConfig& db, std::vector<std::string>* env);

}  // namespace tp::testing
