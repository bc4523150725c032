#pragma once
// The golden enrichment cases (tests/golden/enrich/*.txt): a cluster state, input series, the
// rule that must find each one's pod and the exact series expected from it. Read by the enricher's
// tests and by those of the routes that explain and trace enrichment.
//
// File format, one item per line ('#' starts a comment):
//   device NODE POD POD_UID TYPE NAME NUMBER|-
//   workload POD POD_UID WORKLOAD WORKLOAD_UID [PARENT_UID]
//   input {name="value",...} VALUE@TIMESTAMP ...
//   rule none|pod_uid|pod|device LABEL      (the input's)
//   expect {name="value",...} VALUE@TIMESTAMP ...   (the input's)
//   dropped REASON SERIES SAMPLES

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cache/cluster_snapshot.h"
#include "remote_v1.pb.h"

namespace tp::testing {

using GoldenLabels = std::vector<std::pair<std::string, std::string>>;

inline GoldenLabels parseGoldenLabels(const std::string& text) {
  GoldenLabels labels;
  size_t pos = 1;  // after '{'
  while (pos < text.size() && text[pos] != '}') {
    const size_t equals = text.find('=', pos);
    const std::string name = text.substr(pos, equals - pos);
    const size_t close = text.find('"', equals + 2);
    labels.emplace_back(name, text.substr(equals + 2, close - equals - 2));
    pos = close + 1;
    if (pos < text.size() && text[pos] == ',') ++pos;
  }
  return labels;
}

struct GoldenInput {
  std::string labels_text;  // {name="value",...}
  std::vector<std::pair<double, int64_t>> samples;
  std::string rule;  // "device gpu_id", "pod_uid", "pod", "none"
  std::vector<std::string> expected;
};

struct GoldenCase {
  cache::SnapshotBuilder builder;
  ::prompb::WriteRequest input;
  std::vector<GoldenInput> inputs;
  std::vector<std::string> expected;
  std::vector<std::tuple<std::string, size_t, size_t>> dropped;
};

inline void parseGolden(const std::filesystem::path& path, GoldenCase& golden) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "device") {
      std::string node, pod, uid, type, name, number;
      words >> node >> pod >> uid >> type >> name >> number;
      golden.builder.addDevice(
          {node, pod, uid, type, name,
           number == "-" ? std::nullopt : std::optional<int>(std::stoi(number))});
    } else if (kind == "workload") {
      std::string pod, pod_uid, workload, workload_uid, parent;
      words >> pod >> pod_uid >> workload >> workload_uid >> parent;
      golden.builder.addWorkloadPod({pod, pod_uid, workload, workload_uid, parent});
    } else if (kind == "rule") {
      ASSERT_FALSE(golden.inputs.empty()) << path << ": a rule before any input";
      std::string rest;
      std::getline(words >> std::ws, rest);
      golden.inputs.back().rule = rest;
    } else if (kind == "expect") {
      ASSERT_FALSE(golden.inputs.empty()) << path << ": an expect before any input";
      std::string labels_text, rest;
      words >> labels_text;
      std::getline(words, rest);
      golden.expected.push_back(labels_text + rest);
      golden.inputs.back().expected.push_back(labels_text + rest);
    } else if (kind == "input") {
      GoldenInput& input = golden.inputs.emplace_back();
      std::string sample_text;
      words >> input.labels_text;
      auto* series = golden.input.add_timeseries();
      for (const auto& [name, value] : parseGoldenLabels(input.labels_text)) {
        auto* label = series->add_labels();
        label->set_name(name);
        label->set_value(value);
      }
      while (words >> sample_text) {
        const size_t at = sample_text.find('@');
        auto* sample = series->add_samples();
        sample->set_value(std::stod(sample_text.substr(0, at)));
        sample->set_timestamp(std::stoll(sample_text.substr(at + 1)));
        input.samples.emplace_back(sample->value(), sample->timestamp());
      }
    } else if (kind == "dropped") {
      std::string reason;
      size_t series = 0, samples = 0;
      words >> reason >> series >> samples;
      golden.dropped.emplace_back(reason, series, samples);
    } else {
      FAIL() << path << ": unknown line kind '" << kind << "'";
    }
  }
  for (const GoldenInput& input : golden.inputs) {
    EXPECT_FALSE(input.rule.empty()) << path << ": no rule for " << input.labels_text;
  }
}

// Every golden file, parsed.
inline std::vector<std::pair<std::string, std::unique_ptr<GoldenCase>>> goldenEnrichCases(
    const std::filesystem::path& golden_dir) {
  std::vector<std::pair<std::string, std::unique_ptr<GoldenCase>>> cases;
  for (const auto& entry : std::filesystem::directory_iterator(golden_dir / "enrich")) {
    if (entry.path().extension() != ".txt") continue;
    auto golden = std::make_unique<GoldenCase>();
    parseGolden(entry.path(), *golden);
    cases.emplace_back(entry.path().filename().string(), std::move(golden));
  }
  return cases;
}

}  // namespace tp::testing
