//===- CalibrationTest.cpp - static w8a8's activation observers -----------===//

#include "runtime/Calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using strata::runtime::affineParams;
using strata::runtime::Observer;

namespace {

std::vector<float> normal(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(gen);
  return v;
}

TEST(CalibrationTest, MinMaxIsExactWhateverTheOrder) {
  Observer o;
  std::vector<float> small{0.25f, 0.5f}, wide{-3.0f, 40.0f}, inside{1.0f};
  o.add(small.data(), small.size());
  o.add(wide.data(), wide.size()); // the histogram's range grows twice over
  o.add(inside.data(), inside.size());
  double low, high;
  o.range(STRATA_OBSERVER_MINMAX, 99.99, low, high);
  EXPECT_EQ(low, -3.0);
  EXPECT_EQ(high, 40.0);
}

TEST(CalibrationTest, GrowingTheRangeKeepsTheCounts) {
  // 1000 values in [0, 1), then 1000 in [0, 100) (ten of them below 1):
  // the central 51% runs from the 490th value (0.489) to the 1510th
  // (50.9), to the final bins' width (the range doubled to 128: 1/16).
  std::vector<float> a(1000), b(1000);
  for (int i = 0; i < 1000; ++i) {
    a[i] = i / 1000.0f;
    b[i] = i / 10.0f;
  }
  Observer o;
  o.add(a.data(), a.size());
  o.add(b.data(), b.size());
  double low, high;
  o.range(STRATA_OBSERVER_PERCENTILE, 51.0, low, high);
  EXPECT_NEAR(low, 0.489, 0.07);
  EXPECT_NEAR(high, 50.9, 0.07);
}

TEST(CalibrationTest, PercentileAndMseClipAnOutlier) {
  // One outlier in a million values: keeping it makes the step 1004 / 255
  // for all of them (an error of about 1.3 per value, in squares), more
  // than clipping it alone costs (about 1000^2).
  std::vector<float> v = normal(1000000, 7);
  v.push_back(1000.0f);
  Observer o;
  o.add(v.data(), v.size());
  double low, high;
  o.range(STRATA_OBSERVER_MINMAX, 99.99, low, high);
  EXPECT_EQ(high, 1000.0);
  o.range(STRATA_OBSERVER_PERCENTILE, 99.9, low, high);
  EXPECT_LT(high, 10.0);
  EXPECT_GT(high, 2.0);
  EXPECT_LT(low, -2.0);
  o.range(STRATA_OBSERVER_MSE, 99.99, low, high);
  EXPECT_LT(high, 20.0);
  EXPECT_LT(low, -1.0);
  // Among twenty thousand values the outlier is worth keeping: clipping it
  // would cost more than the coarser step.
  std::vector<float> few = normal(20000, 8);
  few.push_back(1000.0f);
  Observer keep;
  keep.add(few.data(), few.size());
  keep.range(STRATA_OBSERVER_MSE, 99.99, low, high);
  EXPECT_GT(high, 900.0);
}

TEST(CalibrationTest, MergeSeesBothObservers) {
  std::vector<float> a{-1.0f, 0.5f}, b{2.0f, 7.0f};
  Observer x, y, all;
  x.add(a.data(), a.size());
  y.add(b.data(), b.size());
  all.merge(x);
  all.merge(y);
  double low, high;
  all.range(STRATA_OBSERVER_MINMAX, 99.99, low, high);
  EXPECT_EQ(low, -1.0);
  EXPECT_EQ(high, 7.0);
  Observer none;
  all.merge(none);
  EXPECT_FALSE(all.empty());
}

TEST(CalibrationTest, AffineParamsHoldZeroExactly) {
  float scale, zero;
  affineParams(-1.0, 3.0, scale, zero);
  EXPECT_FLOAT_EQ(scale, 4.0f / 255);
  EXPECT_EQ(zero, 64.0f); // round(1 / (4 / 255)) = round(63.75)
  // A positive range widens down to 0; a negative one up to it.
  affineParams(2.0, 5.0, scale, zero);
  EXPECT_FLOAT_EQ(scale, 5.0f / 255);
  EXPECT_EQ(zero, 0.0f);
  affineParams(-5.0, -1.0, scale, zero);
  EXPECT_EQ(zero, 255.0f);
  // One point (all zeros): any scale represents it; 1, zero point 0.
  affineParams(0.0, 0.0, scale, zero);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(zero, 0.0f);
}

} // namespace
