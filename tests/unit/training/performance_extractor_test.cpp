#include "training/performance_extractor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace tp::training {
namespace {

using config::PatternType;

// A performance line as its format and fields, any other kind as its name, format and details.
std::string render(const PerformanceExtractor& extractor, std::string_view line) {
  Performance performance;
  const LineKind kind = extractor.extract(line, &performance);
  if (kind == LineKind::kNone) return "none";
  rapidjson::StringBuffer buffer;
  common::JsonWriter writer(buffer);
  writer.StartObject();
  if (kind != LineKind::kPerformance) {
    writer.Key("kind");
    common::writeString(writer, lineKindName(kind));
  }
  writer.Key("format");
  common::writeString(writer, performance.format);
  if (kind == LineKind::kPerformance) {
    writer.Key("fields");
    writePerformanceJson(writer, performance);
  }
  writeLifecycleFields(writer, performance.lifecycle);
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
  EXPECT_GE(matched, 85u);
  EXPECT_GE(near_misses, 65u);
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

TEST(TorchtitanLines, ColourCodesAndThousandsSeparatorsAreRead) {
  const PerformanceExtractor extractor;
  Performance performance;
  ASSERT_EQ(extractor.extract("\x1b[31mstep: 1200  \x1b[32mloss:  2.34567  \x1b[38;2;180;60;0m"
                              "grad_norm:  0.5000  \x1b[38;2;54;234;195mmemory: 170.25GiB(88.6%)"
                              "  \x1b[34mtps: 1,234,567  \x1b[36mtflops: 12,345.67  \x1b[35mmfu: "
                              "61.20%\x1b[39m",
                              &performance),
            LineKind::kPerformance);
  EXPECT_EQ(performance.format, kTorchtitanFormat);
  EXPECT_EQ(performance[Field::kCurrentIteration], 1200.0);
  EXPECT_EQ(performance[Field::kTokensPerGpu], 1234567.0);
  EXPECT_EQ(performance[Field::kTflops], 12345.67);
  EXPECT_EQ(performance[Field::kMemUsages], 170.25);
  EXPECT_EQ(performance[Field::kMemUsageRatio], 88.6);
  EXPECT_EQ(performance[Field::kMfu], 61.2);
  EXPECT_EQ(performance[Field::kLmLoss], 2.34567);
  EXPECT_EQ(performance[Field::kGradNorm], 0.5);
  EXPECT_FALSE(performance[Field::kTargetIteration].has_value());
  // mfu is N/A when quantisation is on; a field TorchTitan may add later is passed over.
  ASSERT_EQ(extractor.extract("step: 3  loss: 2.0  memory: 1.00GiB(1.00%)  tps: 999  "
                              "experts_dropped: 4  mfu: N/A",
                              &performance),
            LineKind::kPerformance);
  EXPECT_FALSE(performance[Field::kMfu].has_value());
  EXPECT_EQ(performance[Field::kTokensPerGpu], 999.0);
  EXPECT_FALSE(performance[Field::kGradNorm].has_value());
  // A separator that is no digit group leaves the value absent rather than misread.
  ASSERT_EQ(extractor.extract("step: 4  loss: 2.0  tps: 1,2x3  (1%)", &performance),
            LineKind::kPerformance);
  EXPECT_FALSE(performance[Field::kTokensPerGpu].has_value());
}

TEST(TorchtitanLines, StepWithoutLossOrInsideAnotherMessageIsNoStepLine) {
  const PerformanceExtractor extractor;
  Performance performance;
  bool bad_iteration = false;
  for (const char* line : {
           "step: 10  grad_norm: 1.0  mfu: 3%",
           "validate step: 10  loss: 1.0 (3%)",
           "warmup_step: 10  loss: 1.0 (3%)",
           "step:  loss: 1.0 (3%)",
       }) {
    EXPECT_EQ(extractor.extract(line, &performance, &bad_iteration), LineKind::kNone) << line;
    EXPECT_FALSE(bad_iteration) << line;
  }
  EXPECT_EQ(extractor.extract("step: -  loss: 1.0 (3%)", &performance, &bad_iteration),
            LineKind::kNone);
  EXPECT_TRUE(bad_iteration);
}

TEST(NemoLines, TheGlobalStepIsTheIterationNotTheStepOfTheEpoch) {
  const PerformanceExtractor extractor;
  Performance performance;
  ASSERT_EQ(extractor.extract("Training epoch 3, iteration 2/999 | lr: 3e-05 | global_step: 3002 |"
                              " reduced_train_loss: 1.5 | train_step_timing in s: 2.5",
                              &performance),
            LineKind::kPerformance);
  EXPECT_EQ(performance.format, kNemoFormat);
  EXPECT_EQ(performance[Field::kCurrentIteration], 3002.0);
  EXPECT_EQ(performance[Field::kElapsedTimePerIterationMs], 2500.0);
  EXPECT_EQ(performance[Field::kLmLoss], 1.5);
  EXPECT_EQ(performance[Field::kLearningRate], 3e-05);
}

TEST(LifecycleLines, OneExtractorServesEveryKindInTurn) {
  // The details of one line never leak into the next.
  const PerformanceExtractor extractor;
  Performance performance;
  ASSERT_EQ(extractor.extract(" loading checkpoint from /ckpt at iteration 7", &performance),
            LineKind::kCheckpointLoadStart);
  EXPECT_EQ(performance.lifecycle.iteration, 7);
  EXPECT_EQ(performance.lifecycle.path, "/ckpt");
  ASSERT_EQ(extractor.extract("Finished loading the checkpoint in 1.25 seconds.", &performance),
            LineKind::kCheckpointLoadEnd);
  EXPECT_FALSE(performance.lifecycle.iteration.has_value());
  EXPECT_TRUE(performance.lifecycle.path.empty());
  EXPECT_EQ(performance.lifecycle.duration_ms, 1250);
  ASSERT_EQ(extractor.extract(" iteration 8/ 10 | lm loss: 1.0 |", &performance),
            LineKind::kPerformance);
  EXPECT_FALSE(performance.lifecycle.duration_ms.has_value());
  EXPECT_EQ(performance.format, kMegatronFormat);
  ASSERT_EQ(extractor.extract("Training completed", &performance), LineKind::kEndTrain);
  EXPECT_FALSE(performance[Field::kCurrentIteration].has_value());
  EXPECT_EQ(performance.format, kTorchtitanFormat);
}

TEST(LifecycleLines, KindsAreNamedAsPatternTypes) {
  EXPECT_EQ(lineKindName(LineKind::kNone), "none");
  EXPECT_EQ(lineKindName(LineKind::kStartTrain), "start");
  EXPECT_EQ(lineKindName(LineKind::kPerformance), "performance");
  EXPECT_EQ(lineKindName(LineKind::kEndTrain), "end");
  EXPECT_EQ(lineKindName(LineKind::kCheckpointSaveStart), "checkpoint_save_start");
  EXPECT_EQ(lineKindName(LineKind::kCheckpointSaveEnd), "checkpoint_save_end");
  EXPECT_EQ(lineKindName(LineKind::kCheckpointLoadStart), "checkpoint_load_start");
  EXPECT_EQ(lineKindName(LineKind::kCheckpointLoadEnd), "checkpoint_load_end");
}

TEST(RankOf, ReadsTheRankOfEachLoggerPrefix) {
  // Primus (console, file sink, colour codes), DeepSpeed / Megatron, torchrun's tee, PyTorch.
  EXPECT_EQ(rankOf("[20251023 12:39:12][rank-63/64][INFO ] [----trainer.py:2382] :  iteration"),
            "63");
  EXPECT_EQ(
      rankOf("[20251023 12:39:12][alice/team-a][pretrain   ][ip-10.0.0.1][rank-0/8][DEBUG] x"),
      "0");
  EXPECT_EQ(rankOf("\x1b[32m20251023 12:39:12\x1b[0m][\x1b[36mrank-7/64\x1b[0m][\x1b[1mINFO "),
            "7");
  EXPECT_EQ(rankOf("[2024-01-01 00:00:00,000] [INFO] [logging.py:96:log_dist] [Rank 12] Saving"),
            "12");
  EXPECT_EQ(rankOf("[Rank 3] (after 10 iterations) memory (MB) | allocated: 1.0"), "3");
  EXPECT_EQ(rankOf("[default5]:Resuming from checkpoint"), "5");
  EXPECT_EQ(rankOf("[rank10]:[titan] 2025-10-23 12:39:12,345 - root - INFO - step: 1"), "10");
  // The Primus rank wins over torchrun's local one.
  EXPECT_EQ(rankOf("[default1]:[20251023 12:39:12][rank-9/16][INFO ] x"), "9");
}

TEST(RankOf, IsEmptyWithoutARankInThePrefix) {
  for (const std::string_view message :
       {std::string_view("(PrimusMaster  pid=12) [20251023 12:39:12][node-0/8][INFO ] x"),
        std::string_view("[titan] 2025-10-23 12:39:12,345 - root - INFO - step: 1"),
        std::string_view("[NeMo I 2025-08-26 13:45:33 nemo_logging:393] Global Checkpoint"),
        std::string_view("iteration 5/ 10 | rank-7 rocm max mem usage/usage_ratio: 1GB/2%"),
        std::string_view("[Rank x] y"), std::string_view("[rank-/8] y"),
        std::string_view("[rank-3/] y"), std::string_view("[default]: y"),
        std::string_view("[3]: y"), std::string_view("x [default3]: y"), std::string_view(""),
        std::string_view("[rank-"), std::string_view("[Rank 4")}) {
    EXPECT_EQ(rankOf(message), "") << message;
  }
  // Only the prefix is read: a rank deep in the message is not the logger's.
  EXPECT_EQ(rankOf(std::string(300, ' ') + "[rank-3/8]"), "");
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
                                                  "primus-legacy", "megatron", "torchtitan", "nemo",
                                                  "primus"}));
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
  EXPECT_EQ(error({"upper", "(?P<current_iteration>\\d+) (?P<LmLoss>\\S+)", ""}),
            "config: invalid training.patterns: pattern 'upper': group 'LmLoss' is neither a "
            "performance field nor a custom field name (lower-case letters, digits and '_', not "
            "starting with a digit)");
  EXPECT_EQ(error({"no-iteration", "loss (?P<lm_loss>\\S+)", ""}),
            "config: invalid training.patterns: pattern 'no-iteration': no group named "
            "current_iteration");
  EXPECT_EQ(error({"save", "saved (?P<iteration>\\d+) (?P<step>\\d+)", "",
                   PatternType::kCheckpointSaveEnd}),
            "config: invalid training.patterns: pattern 'save': group 'step' is not one of the "
            "groups checkpoint_save_end patterns take: iteration, path, duration_ms");
  EXPECT_EQ(error({"end", "done at (?P<current_iteration>\\d+)", "", PatternType::kEnd}),
            "config: invalid training.patterns: pattern 'end': group 'current_iteration' is not "
            "one of the groups end patterns take: iteration, path, duration_ms");
  EXPECT_EQ(error({"quiet", "noise (?P<iteration>\\d+)", "", PatternType::kIgnore}),
            "config: invalid training.patterns: pattern 'quiet': group 'iteration': ignore "
            "patterns take no named groups");
  // Start and end patterns need no group at all.
  EXPECT_EQ(error({"go", "^go$", "", PatternType::kStart}), "ok");
  EXPECT_EQ(error({"stop", "^stop$", "", PatternType::kEnd}), "ok");
}

TEST(ConfiguredPatterns, GroupsThatAreNoFieldBecomeCustomFieldsWrittenAfterTheKnownOnes) {
  auto extractor = PerformanceExtractor::create(
      {{"jax",
        R"(step (?P<current_iteration>\d+) loss=(?P<lm_loss>\S+) )"
        R"(tok=(?P<tokens_seen>\S+) aux=(?P<aux_loss_2>\S+)(?: extra=(?P<extra>\S+))?)",
        "step "}});
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  Performance performance;
  ASSERT_EQ((*extractor)->extract("step 7 loss=2.5 tok=1e6 aux=nan", &performance),
            LineKind::kPerformance);
  ASSERT_EQ(performance.custom.size(), 2u);
  EXPECT_EQ(performance.custom[0].name, "tokens_seen");
  EXPECT_EQ(performance.custom[0].value, 1e6);
  EXPECT_EQ(performance.custom[1].name, "aux_loss_2");
  EXPECT_TRUE(std::isnan(performance.custom[1].value));
  EXPECT_EQ(render(**extractor, "step 7 loss=2.5 tok=1e6 aux=nan"),
            R"({"format":"jax","fields":{"current_iteration":7,"lm_loss":2.5,)"
            R"("tokens_seen":1000000.0,"aux_loss_2":"NaN"}})");
  // A custom value that is no number is absent, like a known field's; the next line starts over.
  ASSERT_EQ((*extractor)->extract("step 8 loss=2.4 tok=many aux=1 extra=3", &performance),
            LineKind::kPerformance);
  ASSERT_EQ(performance.custom.size(), 2u);
  EXPECT_EQ(performance.custom[0].name, "aux_loss_2");
  EXPECT_EQ(performance.custom[1].name, "extra");
  EXPECT_EQ(performance.custom[1].value, 3.0);
}

TEST(ConfiguredPatterns, LifecycleTypesFillTheDetailsFromTheirGroups) {
  auto extractor = PerformanceExtractor::create({
      {"job-start", R"(=== job begins ===$)", "job begins", PatternType::kStart},
      {"job-end", R"(job done after step (?P<iteration>\S+))", "job done", PatternType::kEnd},
      {"save-begin", R"(ckpt save -> (?P<path>\S+))", "ckpt save",
       PatternType::kCheckpointSaveStart},
      {"save-done", R"(ckpt saved step=(?P<iteration>\d+) (?P<path>\S+) in (?P<duration_ms>\S+)ms)",
       "ckpt saved", PatternType::kCheckpointSaveEnd},
      {"load-begin", R"(restore from (?P<path>\S+))", "restore", PatternType::kCheckpointLoadStart},
      {"load-done", R"(restored in (?P<duration_ms>\S+)ms)", "restored",
       PatternType::kCheckpointLoadEnd},
  });
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  EXPECT_EQ(render(**extractor, "[rank-0/8] === job begins ==="),
            R"({"kind":"start","format":"job-start"})");
  EXPECT_EQ(render(**extractor, "job done after step 4000"),
            R"({"kind":"end","format":"job-end","iteration":4000})");
  // No iteration printed: the checkpoint directory's number.
  EXPECT_EQ(render(**extractor, "ckpt save -> s3://bucket/run/iter_0004000"),
            R"({"kind":"checkpoint_save_start","format":"save-begin","iteration":4000,)"
            R"("path":"s3://bucket/run/iter_0004000"})");
  EXPECT_EQ(render(**extractor, "ckpt saved step=4000 /ckpt/run in 1234.6ms"),
            R"({"kind":"checkpoint_save_end","format":"save-done","iteration":4000,)"
            R"("path":"/ckpt/run","duration_ms":1235})");
  EXPECT_EQ(render(**extractor, "ckpt saved step=4000 /ckpt/run in soon ms"), "none");
  EXPECT_EQ(render(**extractor, "ckpt saved step=4000 /ckpt/run in -5ms"),
            R"({"kind":"checkpoint_save_end","format":"save-done","iteration":4000,)"
            R"("path":"/ckpt/run"})");
  EXPECT_EQ(render(**extractor, "restore from /ckpt/run/step-300/"),
            R"({"kind":"checkpoint_load_start","format":"load-begin","iteration":300,)"
            R"("path":"/ckpt/run/step-300/"})");
  EXPECT_EQ(render(**extractor, "restored in 80ms"),
            R"({"kind":"checkpoint_load_end","format":"load-done","duration_ms":80})");
  // An iteration group whose text is no int64 makes the line a near miss.
  Performance performance;
  bool bad_iteration = false;
  EXPECT_EQ((*extractor)->extract("job done after step 4k", &performance, &bad_iteration),
            LineKind::kNone);
  EXPECT_TRUE(bad_iteration);
}

TEST(ConfiguredPatterns, IgnoreKeepsMatchingLinesFromEveryLaterPatternAndTheBuiltIns) {
  auto extractor = PerformanceExtractor::create({
      {"replayed", R"(^\[replay\])", "[replay]", PatternType::kIgnore},
      {"steps", R"(step (?P<current_iteration>\S+))", "step ", PatternType::kPerformance},
      {"eval-noise", R"(^eval: )", "eval", PatternType::kIgnore},
  });
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  EXPECT_EQ(render(**extractor, "[replay] iteration 5/ 10 | lm loss: 2.5 |"), "none");
  EXPECT_EQ(render(**extractor, "[replay] step 5"), "none");
  EXPECT_EQ(render(**extractor, "[replay] training ..."), "none");
  EXPECT_EQ(render(**extractor, "eval: iteration 5/ 10 | lm loss: 2.5 |"), "none");
  EXPECT_EQ(render(**extractor, "step 5"),
            R"({"format":"steps","fields":{"current_iteration":5}})");
  // An earlier pattern's near miss does not count once a later one ignores the line.
  Performance performance;
  bool bad_iteration = true;
  EXPECT_EQ((*extractor)->extract("eval: step x", &performance, &bad_iteration), LineKind::kNone);
  EXPECT_FALSE(bad_iteration);
  EXPECT_EQ((*extractor)->extract("step x", &performance, &bad_iteration), LineKind::kNone);
  EXPECT_TRUE(bad_iteration);
  EXPECT_EQ(render(**extractor, " iteration 5/ 10 | lm loss: 2.5 |"),
            R"({"format":"megatron","fields":{"current_iteration":5,"target_iteration":10,)"
            R"("lm_loss":2.5}})");
}

TEST(ConfiguredPatterns, CatastrophicPatternRunsInLinearTime) {
  // (a+)+$ backtracks exponentially in PCRE-style engines; RE2 stays linear.
  auto extractor = PerformanceExtractor::create({{"evil", "(?P<current_iteration>(a+)+)$", ""}});
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  Performance performance;
  const std::string input = std::string(100 << 10, 'a') + "!";
  EXPECT_EQ((*extractor)->extract(input, &performance), LineKind::kNone);
}

// Stored patterns as the registry makes them; aborts the test on a refused one.
std::shared_ptr<const Pattern> stored(int64_t id, config::TrainingPattern pattern,
                                      bool shadow = false) {
  auto compiled = PerformanceExtractor::compileStored(
      {.id = id, .pattern = std::move(pattern), .framework = "jax", .shadow = shadow});
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return compiled.ok() ? *compiled : nullptr;
}

TEST(StoredPatterns, LensGroupNamesAreTheFields) {
  auto pattern =
      stored(7, {"lens-steps", R"(step (?P<CurrentIteration>\d+)/(?P<TargetIteration>\d+) )"
                               R"(loss=(?P<LmLoss>\S+) tflops=(?P<TFLOPS>\S+) )"
                               R"(tokens=(?P<TokensPerGPU>\S+) mem=(?P<MemUsage>\S+) )"
                               R"(ms=(?P<ElapsedTimePerIterationMS>\S+))"});
  ASSERT_NE(pattern, nullptr);
  const auto extractor = PerformanceExtractor().withStored({pattern});
  EXPECT_EQ(render(*extractor, "step 3/10 loss=2.5 tflops=300 tokens=1200 mem=50 ms=900"),
            R"({"format":"lens-steps","fields":{"current_iteration":3,"target_iteration":10,)"
            R"("elapsed_time_per_iteration_ms":900.0,"mem_usages":50.0,"tflops":300.0,)"
            R"("tokens_per_gpu":1200.0,"lm_loss":2.5}})");
  auto checkpoint = stored(8, {"lens-save",
                               R"(saved checkpoint at iteration (?P<Iteration>\d+) to )"
                               R"((?P<Path>\S+) took (?P<DurationMs>\d+) ms)",
                               "", PatternType::kCheckpointSaveEnd});
  ASSERT_NE(checkpoint, nullptr);
  EXPECT_EQ(render(*PerformanceExtractor().withStored({checkpoint}),
                   "saved checkpoint at iteration 40 to /ckpt/iter_0000040 took 1500 ms"),
            R"({"kind":"checkpoint_save_end","format":"lens-save","iteration":40,)"
            R"("path":"/ckpt/iter_0000040","duration_ms":1500})");
}

TEST(StoredPatterns, RowsNamingNoKnownFieldOrNotCompilingAreRefused) {
  for (const config::TrainingPattern& pattern : std::vector<config::TrainingPattern>{
           {"camel-custom", R"(Throughput: (?P<SamplesPerSecond>\d+))"},
           {"no-iteration", R"(loss=(?P<LmLoss>\S+))"},
           {"unbalanced", R"(step (?P<CurrentIteration>\d+)"},
           {"blacklist-group", R"(noise (?P<CurrentIteration>\d+))", "", PatternType::kIgnore},
           {"event-field", R"(saving (?P<LmLoss>\d+))", "", PatternType::kCheckpointSaveStart},
       }) {
    EXPECT_FALSE(PerformanceExtractor::compileStored({.id = 1, .pattern = pattern}).ok())
        << pattern.name;
  }
}

TEST(StoredPatterns, TriedAfterTheConfiguredAndBeforeTheBuiltInsInTheirOrder) {
  auto extractor =
      PerformanceExtractor::create({{"configured", R"(^cfg step (?P<current_iteration>\d+))", ""}});
  ASSERT_TRUE(extractor.ok());
  const auto with_stored =
      (*extractor)
          ->withStored({
              stored(1, {"first", R"(step (?P<current_iteration>\d+) a)"}),
              stored(2, {"second", R"(step (?P<current_iteration>\d+))"}),
              stored(3, {"megatron-override", R"(iteration\s+(?P<CurrentIteration>\d+)/ +\d+ \|)"}),
          });
  std::vector<uint64_t> hits(with_stored->storedCount(), 0);
  Performance performance;
  EXPECT_EQ(with_stored->extract("cfg step 4 a", &performance, nullptr, hits),
            LineKind::kPerformance);
  EXPECT_EQ(performance.format, "configured");
  EXPECT_EQ(with_stored->extract("step 4 a", &performance, nullptr, hits), LineKind::kPerformance);
  EXPECT_EQ(performance.format, "first");
  EXPECT_EQ(with_stored->extract("step 4 b", &performance, nullptr, hits), LineKind::kPerformance);
  EXPECT_EQ(performance.format, "second");
  EXPECT_EQ(with_stored->extract(" iteration 5/ 10 | lm loss: 2.5 |", &performance, nullptr, hits),
            LineKind::kPerformance);
  EXPECT_EQ(performance.format, "megatron-override");
  EXPECT_EQ(hits, (std::vector<uint64_t>{1, 1, 1}));
  // The extractor it was made from is unchanged.
  EXPECT_EQ((*extractor)->storedCount(), 0u);
  EXPECT_EQ(render(**extractor, " iteration 5/ 10 | lm loss: 2.5 |"),
            R"({"format":"megatron","fields":{"current_iteration":5,"target_iteration":10,)"
            R"("lm_loss":2.5}})");
}

TEST(StoredPatterns, ABlacklistEndsTheAnalysisAndAShadowOneOnlyCounts) {
  const std::string line = " iteration 5/ 10 | lm loss: 2.5 |";
  const auto blacklist = [](bool shadow) {
    return stored(4, {"all-iterations", R"(iteration)", "", PatternType::kIgnore}, shadow);
  };
  std::vector<uint64_t> hits(1, 0);
  Performance performance;
  EXPECT_EQ(PerformanceExtractor()
                .withStored({blacklist(false)})
                ->extract(line, &performance, nullptr, hits),
            LineKind::kNone);
  EXPECT_EQ(hits[0], 1u);
  EXPECT_EQ(PerformanceExtractor()
                .withStored({blacklist(true)})
                ->extract(line, &performance, nullptr, hits),
            LineKind::kPerformance);
  EXPECT_EQ(performance.format, "megatron");
  EXPECT_EQ(hits[0], 2u);
  // A shadow performance pattern neither decides the line nor makes its near miss.
  const auto shadow_steps = PerformanceExtractor().withStored(
      {stored(5, {"steps", R"(step (?P<current_iteration>\S+))"}, true)});
  bool bad_iteration = false;
  EXPECT_EQ(shadow_steps->extract("step x", &performance, &bad_iteration, hits), LineKind::kNone);
  EXPECT_FALSE(bad_iteration);
  EXPECT_EQ(shadow_steps->extract("step 9", &performance, &bad_iteration, hits), LineKind::kNone);
  EXPECT_EQ(hits[0], 3u);
}

TEST(StoredPatterns, ExplainListsEveryMatchInOrderAndTheWinner) {
  auto extractor =
      PerformanceExtractor::create({{"never", R"(^never (?P<current_iteration>\d+))", ""}});
  ASSERT_TRUE(extractor.ok());
  const auto with_stored =
      (*extractor)
          ->withStored({
              stored(11, {"shadow-blacklist", R"(lm loss)", "", PatternType::kIgnore}, true),
              stored(12, {"lens",
                          R"(iteration\s+(?P<CurrentIteration>\d+)/\s*(?P<TargetIteration>\d+))"}),
          });
  const Explanation explanation =
      with_stored->explain("\x1b[32m iteration 5/ 10 | lm loss: 2.5 |\x1b[0m");
  EXPECT_EQ(explanation.cleaned, "iteration 5/ 10 | lm loss: 2.5 |");
  ASSERT_EQ(explanation.matches.size(), 3u);
  EXPECT_EQ(explanation.matches[0].id, 11);
  EXPECT_TRUE(explanation.matches[0].shadow);
  EXPECT_EQ(explanation.matches[0].kind, LineKind::kNone);
  EXPECT_EQ(explanation.matches[1].name, "lens");
  EXPECT_EQ(explanation.matches[1].origin, PatternOrigin::kStored);
  EXPECT_EQ(explanation.matches[1].framework, "jax");
  EXPECT_EQ(explanation.matches[1].groups,
            (std::vector<std::pair<std::string, std::string>>{{"CurrentIteration", "5"},
                                                              {"TargetIteration", "10"}}));
  EXPECT_EQ(explanation.matches[1].performance[Field::kTargetIteration], 10);
  EXPECT_EQ(explanation.matches[2].origin, PatternOrigin::kBuiltIn);
  EXPECT_EQ(explanation.matches[2].name, "megatron");
  EXPECT_EQ(explanation.winner, 1u);
  EXPECT_FALSE(with_stored->explain("nothing to see").winner.has_value());
  // A built-in lifecycle line reports its regex's groups.
  const Explanation save = PerformanceExtractor().explain(
      "saving checkpoint at iteration     100 to /ckpt in torch_dist format");
  ASSERT_TRUE(save.winner.has_value());
  EXPECT_EQ(save.matches[*save.winner].kind, LineKind::kCheckpointSaveStart);
  EXPECT_FALSE(save.matches[*save.winner].regex.empty());
}

TEST(StoredPatterns, SampleLineTestMatchesTheCleanedLine) {
  auto pattern = stored(9, {"steps", R"(^step (?P<current_iteration>\d+)$)"});
  ASSERT_NE(pattern, nullptr);
  EXPECT_TRUE(PerformanceExtractor::matches(*pattern, "\x1b[1m step 3 \x1b[0m"));
  EXPECT_FALSE(PerformanceExtractor::matches(*pattern, "step three"));
}

TEST(NearestFormats, NameThePartTheLineLacksAndWhereItWasLookedFor) {
  const PerformanceExtractor extractor;
  auto nearest = extractor.nearestFormats("iteration 10 | loss 3.2");
  ASSERT_FALSE(nearest.empty());
  EXPECT_EQ(nearest[0].name, kMegatronFormat);
  EXPECT_EQ(nearest[0].parts_found, 3u);
  EXPECT_EQ(nearest[0].parts, 6u);
  EXPECT_EQ(nearest[0].missing, "'/' after the current iteration");
  EXPECT_EQ(nearest[0].at, "| loss 3.2");

  // The attempt that got furthest is the one reported.
  nearest = extractor.nearestFormats("iteration: warmup | iteration 5/ x |");
  ASSERT_FALSE(nearest.empty());
  EXPECT_EQ(nearest[0].parts_found, 4u);
  EXPECT_EQ(nearest[0].missing, "the target iteration (digits)");
  EXPECT_EQ(nearest[0].at, "x |");

  nearest = extractor.nearestFormats("\x1b[32mstep: 10  loss:  7.87  grad_norm:  1.23\x1b[0m");
  ASSERT_FALSE(nearest.empty());
  EXPECT_EQ(nearest[0].name, kTorchtitanFormat);
  EXPECT_EQ(nearest[0].parts_found, 3u);
  EXPECT_EQ(nearest[0].parts, 4u);
  EXPECT_NE(nearest[0].missing.find("'%'"), std::string::npos);

  nearest = extractor.nearestFormats("step: 10  lr: 2e-05  loss: 7.8  mfu: 3%");
  ASSERT_FALSE(nearest.empty());
  EXPECT_EQ(nearest[0].name, kTorchtitanFormat);
  EXPECT_EQ(nearest[0].parts_found, 2u);
  EXPECT_EQ(nearest[0].missing, "'loss:' right after the step");
  EXPECT_EQ(nearest[0].at, "  lr: 2e-05  loss: 7.8  mfu: 3%");

  // A line with no part of any format has no candidate; one that matches is none either.
  EXPECT_TRUE(extractor.nearestFormats("all good here").empty());
  EXPECT_TRUE(extractor.nearestFormats("step: 10  loss: 7.8  mfu: 3%").empty());
}

TEST(NearestFormats, PatternsAreRankedByTheWordsOfTheirRegexTheLineHas) {
  auto extractor = PerformanceExtractor::create(
      {{"jax-steps",
        R"((?i)Throughput:\s*(?P<tflops>[\d.]+) TFLOPS at step (?P<current_iteration>\d+))", ""}});
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  const auto with_stored =
      (*extractor)
          ->withStored({stored(
              4, {"lens-steps", R"(global step (?P<CurrentIteration>\d+) loss=(?P<LmLoss>\S+))"},
              /*shadow=*/true)});
  // Group names and escapes are no words: "tflops" counts once, from the literal text.
  const auto nearest = with_stored->nearestFormats("throughput: 312 tflops at iteration 7");
  ASSERT_EQ(nearest.size(), 2u);
  EXPECT_EQ(nearest[0].name, "jax-steps");
  EXPECT_EQ(nearest[0].origin, PatternOrigin::kConfigured);
  EXPECT_EQ(nearest[0].parts_found, 3u);  // throughput, tflops, at
  EXPECT_EQ(nearest[0].parts, 4u);
  EXPECT_EQ(nearest[0].missing, "'step'");
  EXPECT_EQ(nearest[1].name, kMegatronFormat);  // "iteration 7", then no '/'
  EXPECT_EQ(nearest[1].parts_found, 3u);

  const auto lens = with_stored->nearestFormats("global step seven, loss unknown");
  ASSERT_FALSE(lens.empty());
  EXPECT_EQ(lens[0].name, "lens-steps");
  EXPECT_EQ(lens[0].origin, PatternOrigin::kStored);
  EXPECT_EQ(lens[0].id, 4);
  EXPECT_TRUE(lens[0].shadow);
  EXPECT_EQ(lens[0].parts_found, lens[0].parts);  // every word is there; the numbers are not
  EXPECT_NE(lens[0].missing.find("numbers or punctuation"), std::string::npos);
}

TEST(NearestFormats, RegexWordsLeaveOutFlagsCountsClassesAndWordsInsideWords) {
  auto extractor = PerformanceExtractor::create(
      {{"dict", R"((?is)\{'step': (?P<current_iteration>\d{1,9}), 'loss': (?P<lm_loss>[^,}\]]+)\})",
        ""},
       {"at-step", R"(at step (?P<current_iteration>\d+))", ""}});
  ASSERT_TRUE(extractor.ok()) << extractor.status();
  auto nearest = (*extractor)->nearestFormats("{'step': 'warmup', 'loss': 2.5}");
  ASSERT_FALSE(nearest.empty());
  EXPECT_EQ(nearest[0].name, "dict");
  EXPECT_EQ(nearest[0].parts, 2u);  // step, loss: not "is", nor what the class and count hold
  EXPECT_EQ(nearest[0].parts_found, 2u);
  // "at" inside "iteration" is no word of the line.
  nearest = (*extractor)->nearestFormats("iteration 5, step 3");
  const auto at_step = std::find_if(nearest.begin(), nearest.end(), [](const FormatCandidate& one) {
    return one.name == "at-step";
  });
  ASSERT_NE(at_step, nearest.end());
  EXPECT_EQ(at_step->parts_found, 1u);
  EXPECT_EQ(at_step->missing, "'at'");
  // An excerpt never cuts a character in two.
  nearest =
      PerformanceExtractor().nearestFormats("iteration 5 " + std::string(29, 'x') + "\u00e9\u00e9");
  ASSERT_FALSE(nearest.empty());
  EXPECT_EQ(nearest[0].at, std::string(29, 'x') + "\u00e9");
}

}  // namespace
}  // namespace tp::training
