#include "training/run_serials.h"

#include <gtest/gtest.h>

namespace tp::training {
namespace {

TEST(RunSerials, FirstRunOfAWorkloadIsOne) {
  RunSerials serials;
  EXPECT_FALSE(serials.loaded("job"));
  serials.load("job", {});
  EXPECT_TRUE(serials.loaded("job"));
  EXPECT_EQ(serials.serialFor("job", "leaf-1"), 1);
  EXPECT_FALSE(serials.recorded("job", "leaf-1").has_value());
}

TEST(RunSerials, RecordedEventGivesItsSerial) {
  RunSerials serials;
  serials.load("job", {{"leaf-1", 1}, {"leaf-2", 2}});
  EXPECT_EQ(serials.serialFor("job", "leaf-1"), 1);
  EXPECT_EQ(serials.serialFor("job", "leaf-2"), 2);
  EXPECT_EQ(serials.recorded("job", "leaf-2"), 2);
}

TEST(RunSerials, NewNearestWorkloadIsTheNextRun) {
  RunSerials serials;
  serials.load("job", {{"leaf-1", 1}, {"leaf-3", 3}});
  EXPECT_EQ(serials.serialFor("job", "leaf-4"), 4);
  serials.record("job", "leaf-4", 4);
  EXPECT_EQ(serials.serialFor("job", "leaf-5"), 5);
  // Workloads are independent.
  EXPECT_EQ(serials.serialFor("other-job", "leaf-4"), 1);
}

TEST(RunSerials, LoadReplacesAndKeepsTheFirstOfDuplicates) {
  RunSerials serials;
  serials.record("job", "leaf-1", 7);
  serials.load("job", {{"leaf-1", 1}, {"leaf-1", 2}});
  EXPECT_EQ(serials.recorded("job", "leaf-1"), 1);
  EXPECT_EQ(serials.workloadCount(), 1u);
}

}  // namespace
}  // namespace tp::training
