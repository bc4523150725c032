#include "training/performance_extractor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace tp::training {
namespace {

std::string render(const PerformanceExtractor& extractor, std::string_view line) {
  Performance performance;
  switch (extractor.extract(line, &performance)) {
    case LineKind::kNone:
      return "none";
    case LineKind::kStartTrain:
      return "StartTrain";
    case LineKind::kPerformance:
      break;
  }
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("format");
  common::writeString(writer, performance.format);
  writer.Key("fields");
  writePerformanceJson(writer, performance);
  writer.EndObject();
  return buffer.GetString();
}

std::string unescape(std::string text) {
  for (size_t at = text.find("\\e"); at != std::string::npos; at = text.find("\\e", at + 1)) {
    text.replace(at, 2, "\x1b");
  }
  return text;
}

TEST(TrainingGolden, EveryLineGivesItsExpectedResult) {
  std::ifstream file(std::string(TP_GOLDEN_DIR) + "/training/lines.txt");
  ASSERT_TRUE(file) << "golden file missing";
  const PerformanceExtractor extractor;
  std::string text, line;
  size_t matched = 0, near_misses = 0;
  while (std::getline(file, text)) {
    if (text.rfind("line: ", 0) == 0) {
      line = unescape(text.substr(6));
    } else if (text.rfind("expect: ", 0) == 0) {
      const std::string expected = text.substr(8);
      EXPECT_EQ(render(extractor, line), expected) << "line: " << line;
      (expected == "none" ? near_misses : matched)++;
    }
  }
  EXPECT_GE(matched, 30u);
  EXPECT_GE(near_misses, 15u);
}

TEST(PerformanceExtractor, FirstOfPairAndUnitsAndAbsentFields) {
  const PerformanceExtractor extractor;
  Performance performance;
  ASSERT_EQ(extractor.extract(" iteration 3/ 9 | elapsed time per iteration (s): 1.5/2.0 |",
                              &performance),
            LineKind::kPerformance);
  EXPECT_EQ(performance[Field::kElapsedTimePerIterationMs], 1500.0);
  EXPECT_EQ(performance[Field::kCurrentIteration], 3.0);
  EXPECT_EQ(performance[Field::kTargetIteration], 9.0);
  EXPECT_FALSE(performance[Field::kLmLoss].has_value());
  EXPECT_FALSE(performance[Field::kMemUsages].has_value());
}

TEST(PerformanceExtractor, NonFiniteValuesAreKeptAndWrittenAsStrings) {
  const PerformanceExtractor extractor;
  Performance performance;
  ASSERT_EQ(
      extractor.extract(" iteration 1/ 2 | lm loss: nan | grad norm: inf | loss scale: -inf |",
                        &performance),
      LineKind::kPerformance);
  EXPECT_TRUE(std::isnan(*performance[Field::kLmLoss]));
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writePerformanceJson(writer, performance);
  EXPECT_STREQ(buffer.GetString(),
               R"({"current_iteration":1,"target_iteration":2,"lm_loss":"NaN","loss_scale":"-Inf",)"
               R"("grad_norm":"+Inf"})");
}

TEST(PerformanceExtractor, UnparsableValuesAreAbsent) {
  const PerformanceExtractor extractor;
  Performance performance;
  ASSERT_EQ(extractor.extract(" iteration 1/ 2 | lm loss: n/a | grad norm: 1.0x2 | num zeros: |",
                              &performance),
            LineKind::kPerformance);
  EXPECT_FALSE(performance[Field::kLmLoss].has_value());
  EXPECT_FALSE(performance[Field::kGradNorm].has_value());
  EXPECT_FALSE(performance[Field::kNumZeros].has_value());
}

TEST(PerformanceExtractor, HugeAndGarbageLinesAreHandled) {
  const PerformanceExtractor extractor;
  Performance performance;
  const std::string huge = " iteration 1/ 2 |" + std::string(1 << 20, '|') + " lm loss: 1 |";
  EXPECT_EQ(extractor.extract(huge, &performance), LineKind::kPerformance);
  EXPECT_EQ(performance[Field::kLmLoss], 1.0);
  EXPECT_EQ(extractor.extract(std::string(1 << 20, '\x1b'), &performance), LineKind::kNone);
  EXPECT_EQ(extractor.extract(std::string("\x00\xff iteration", 12), &performance),
            LineKind::kNone);
}

}  // namespace
}  // namespace tp::training
