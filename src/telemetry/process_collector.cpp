#include "telemetry/process_collector.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tp::telemetry {
namespace {

prometheus::MetricFamily gaugeFamily(const char* name, const char* help,
                                     prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {metric}};
}

double bootTimeSeconds() {
  std::ifstream stat("/proc/stat");
  std::string key;
  while (stat >> key) {
    if (key == "btime") {
      double btime = 0;
      stat >> btime;
      return btime;
    }
    stat.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  std::ifstream stat_file("/proc/self/stat");
  std::string stat;
  std::getline(stat_file, stat);
  // Fields after the parenthesised command name, which may itself contain spaces.
  const size_t after_name = stat.rfind(')');
  if (after_name == std::string::npos) return families;
  std::istringstream fields(stat.substr(after_name + 2));
  std::vector<std::string> values;
  for (std::string field; fields >> field;) values.push_back(field);
  // Field numbers from proc(5), counted from 3 (state) onwards.
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3, kStartTime = 22 - 3, kVsize = 23 - 3,
                   kRss = 24 - 3;
  if (values.size() <= kRss) return families;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  families.push_back(gaugeFamily("process_cpu_seconds_total", "User and system CPU time spent",
                                 prometheus::MetricType::Counter,
                                 (std::stod(values[kUtime]) + std::stod(values[kStime])) / ticks));
  families.push_back(gaugeFamily("process_resident_memory_bytes", "Resident memory size",
                                 prometheus::MetricType::Gauge, std::stod(values[kRss]) * page));
  families.push_back(gaugeFamily("process_virtual_memory_bytes", "Virtual memory size",
                                 prometheus::MetricType::Gauge, std::stod(values[kVsize])));
  families.push_back(gaugeFamily("process_start_time_seconds", "Start time since the epoch",
                                 prometheus::MetricType::Gauge,
                                 bootTimeSeconds() + std::stod(values[kStartTime]) / ticks));
  std::error_code error;
  double open_fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++open_fds;
  }
  families.push_back(gaugeFamily("process_open_fds", "Open file descriptors",
                                 prometheus::MetricType::Gauge, open_fds));
  return families;
}

}  // namespace tp::telemetry
