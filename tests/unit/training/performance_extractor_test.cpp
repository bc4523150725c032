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
    default:
      return "lifecycle";
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

TEST(PerformanceExtractor, IterationThatIsNotAnInt64MakesANearMissNotAPerformanceLine) {
  const PerformanceExtractor extractor;
  Performance performance;
  bool bad_iteration = false;
  for (const std::string& iteration :
       {std::string(70, '9'), std::string("18446744073709551616"),  // 2^64
        std::string("9223372036854775808")}) {                      // 2^63
    EXPECT_EQ(extractor.extract(" iteration " + iteration + "/ 100 | lm loss: 2.5 |", &performance,
                                &bad_iteration),
              LineKind::kNone)
        << iteration;
    EXPECT_TRUE(bad_iteration) << iteration;
  }
  // The largest int64 is an iteration; a target that is not one is absent, not a float.
  ASSERT_EQ(extractor.extract(
                " iteration 9223372036854775807/ " + std::string(70, '9') + " | lm loss: 2.5 |",
                &performance, &bad_iteration),
            LineKind::kPerformance);
  EXPECT_FALSE(bad_iteration);
  EXPECT_EQ(performance[Field::kCurrentIteration], 9223372036854775807.0);
  EXPECT_FALSE(performance[Field::kTargetIteration].has_value());
  EXPECT_EQ(extractor.extract("an ordinary line", &performance, &bad_iteration), LineKind::kNone);
  EXPECT_FALSE(bad_iteration);
}

TEST(ConfiguredPatterns, MatchBeforeBuiltInsWithNamedGroupsAndPrefilter) {
  auto extractor = PerformanceExtractor::create(
      {{"jax-trainer",
        R"(step (?P<current_iteration>\d+)/(?P<target_iteration>\d+) loss=(?P<lm_loss>\S+) )"
        R"(tflops=(?P<tflops>[0-9.]+))",
        "step "}});
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  EXPECT_EQ(render(**extractor, "[rank 3] step 120/5000 loss=nan tflops=310.5"),
            R"({"format":"jax-trainer","fields":{"current_iteration":120,"target_iteration":5000,)"
            R"("tflops":310.5,"lm_loss":"NaN"}})");
  // Built-in formats still work, and lines without the prefilter never reach the regex.
  EXPECT_EQ(render(**extractor, " iteration 5/ 10 | lm loss: 2.5 |"),
            R"({"format":"megatron","fields":{"current_iteration":5,"target_iteration":10,)"
            R"("lm_loss":2.5}})");
  EXPECT_EQ(render(**extractor, "Step 120/5000 loss=1 tflops=2"), "none");
  const std::vector<std::string_view> names = (*extractor)->formatNames();
  EXPECT_EQ(names, (std::vector<std::string_view>{"jax-trainer", "primus-hip", "primus-rocm",
                                                  "primus-legacy", "megatron"}));
}

TEST(ConfiguredPatterns, IterationThatIsNotAnInt64MakesANearMiss) {
  auto extractor = PerformanceExtractor::create(
      {{"steps", R"(step (?P<current_iteration>\S+) loss=(?P<lm_loss>\S+))", "step "}});
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  Performance performance;
  bool bad_iteration = false;
  for (const char* line : {"step 1.5 loss=2", "step 1e3 loss=2", "step 12x loss=2",
                           "step 99999999999999999999 loss=2"}) {
    EXPECT_EQ((*extractor)->extract(line, &performance, &bad_iteration), LineKind::kNone) << line;
    EXPECT_TRUE(bad_iteration) << line;
  }
  ASSERT_EQ((*extractor)->extract("step 12 loss=2", &performance, &bad_iteration),
            LineKind::kPerformance);
  EXPECT_FALSE(bad_iteration);
  EXPECT_EQ(performance[Field::kCurrentIteration], 12.0);
}

TEST(ConfiguredPatterns, BadPatternsStopTheStartNamingThem) {
  const auto error = [](config::TrainingPattern pattern) {
    auto extractor = PerformanceExtractor::create({std::move(pattern)});
    return extractor.ok() ? std::string("ok") : std::string(extractor.status().message());
  };
  EXPECT_EQ(error({"broken", "(?P<current_iteration>\\d+", ""}),
            "config: invalid training.patterns: pattern 'broken': missing ): "
            "(?P<current_iteration>\\d+");
  EXPECT_EQ(error({"typo", "(?P<current_iteration>\\d+) (?P<lm_los>\\S+)", ""}),
            "config: invalid training.patterns: pattern 'typo': group 'lm_los' is not a "
            "performance field (fields are the keys of the training_performance document, e.g. "
            "lm_loss)");
  EXPECT_EQ(error({"no-iteration", "loss (?P<lm_loss>\\S+)", ""}),
            "config: invalid training.patterns: pattern 'no-iteration': no group named "
            "current_iteration");
}

TEST(ConfiguredPatterns, CatastrophicPatternRunsInLinearTime) {
  // (a+)+$ backtracks exponentially in PCRE-style engines; RE2 stays linear.
  auto extractor = PerformanceExtractor::create({{"evil", "(?P<current_iteration>(a+)+)$", ""}});
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  Performance performance;
  const std::string input = std::string(100 << 10, 'a') + "!";
  EXPECT_EQ((*extractor)->extract(input, &performance), LineKind::kNone);
}

}  // namespace
}  // namespace tp::training
