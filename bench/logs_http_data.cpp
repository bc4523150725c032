// Writes what bench/logs_http.sh serves and posts:
//
//   logs_http_data OUT_DIR [BATCHES]
//
// OUT_DIR/lens.db: a SQLite cluster state with the pods of the batches (bench/logs_batches.h),
// each running on its node under the job and its current run; OUT_DIR/batch-N.json: BATCHES
// batches (8 by default) whose performance lines have distinct iterations, listed one per line in
// OUT_DIR/batches.txt.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "logs_batches.h"
#include "storage/database.h"
#include "storage/schema.h"
#include "support/cluster_rows.h"

namespace tp {
namespace {

int run(const std::filesystem::path& out, int batches) {
  std::filesystem::create_directories(out);
  config::DbConfig db;
  db.path = (out / "lens.db").string();
  std::filesystem::remove(db.path);
  auto database = storage::Database::create(db);
  if (!database.ok()) {
    std::cerr << "cannot open " << db.path << ": " << database.status() << "\n";
    return 1;
  }
  if (absl::Status schema = storage::ensureSchema(**database, nullptr); !schema.ok()) {
    std::cerr << "cannot create the schema: " << schema << "\n";
    return 1;
  }
  testing::insertWorkload(**database, "pretrain-llama-70b", bench::kJobUid, "", "Running");
  testing::insertWorkload(**database, "pretrain-llama-70b-run1", bench::kRunUid, bench::kJobUid,
                          "Running");
  for (int pod = 0; pod < bench::kPods; ++pod) {
    testing::insertPod(**database, "team-llm", bench::podName(pod), bench::podUid(pod),
                       bench::nodeName(pod), true);
    testing::reference(**database, bench::kJobUid, bench::podUid(pod));
    testing::reference(**database, bench::kRunUid, bench::podUid(pod));
  }
  if (testing::queryNumber(**database, "SELECT count(*) FROM workload_pod_reference") !=
      2 * bench::kPods) {
    std::cerr << "the cluster state was not written\n";
    return 1;
  }

  std::ofstream list(out / "batches.txt");
  for (int batch = 0; batch < batches; ++batch) {
    const std::filesystem::path file = out / ("batch-" + std::to_string(batch) + ".json");
    // Iterations of one batch never repeat in another: every batch brings new rows.
    std::ofstream(file, std::ios::binary)
        << bench::fluentBitBatch(400 + batch * static_cast<int>(bench::kRecordsPerBatch));
    list << file.string() << "\n";
  }
  std::cout << bench::kRecordsPerBatch << "\n";  // records per batch, for the script
  return list ? 0 : 1;
}

}  // namespace
}  // namespace tp

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: logs_http_data OUT_DIR [BATCHES]\n";
    return 2;
  }
  return tp::run(argv[1], argc > 2 ? std::atoi(argv[2]) : 8);
}
