//===- Calibration.h - static w8a8's activation observers -------*- C++ -*-===//
//
// Static w8a8 quantizes each product's activations to uint8 with a scale
// and zero point fixed before inference. Calibration runs the executable's
// `calibrate` entry point (strata-calibration-entry) over sample text and
// watches what each product would quantize: one observer per activation
// parameter (per expert for routed experts), whose range becomes the
// scale and zero point (strata_session_calibration_finish).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_CALIBRATION_H
#define STRATA_RUNTIME_CALIBRATION_H

#include "runtime/strata.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strata::runtime {

/// The values one quantization parameter saw: their exact minimum and
/// maximum, and a histogram of kBins equal bins whose range doubles (bins
/// merging in pairs) whenever a value falls outside it, so the counts stay
/// exact at the final resolution however the values arrive.
class Observer {
public:
  static constexpr size_t kBins = 2048;

  bool empty() const { return count == 0; }
  /// Adds `n` finite values.
  void add(const float *values, size_t n);
  /// Adds everything `other` saw (the fallback of an expert with no rows).
  void merge(const Observer &other);
  /// The range to quantize: [min, max] (minmax); the central `percentile`
  /// percent of the values (percentile); or the range whose uint8
  /// rounding and clipping error, estimated on the histogram, is least
  /// (mse). Always within [min, max].
  void range(strata_observer kind, double percentile, double &low,
             double &high) const;

private:
  void cover(double low, double high);
  void addAt(double value, double weight);
  double quantile(double q) const;

  double count = 0, min = 0, max = 0;
  double lo = 0, width = 0;
  std::vector<double> bins;
};

/// The uint8 asymmetric quantization of [low, high] widened to hold 0
/// (so that zero is exact): scale (high - low) / 255, zero point
/// round(-low / scale) in [0, 255]; a range of one point gets scale 1.
void affineParams(double low, double high, float &scale, float &zeroPoint);

/// A session's calibration so far: observers by activation scale
/// parameter, one per element (per expert), plus, for experts, one over
/// all of them (the range of an expert no row reached).
struct CalibrationState {
  struct Site {
    std::vector<Observer> perElement;
    Observer all;
  };
  std::map<size_t, Site> sites;
  size_t sequences = 0;
  std::string warnings;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_CALIBRATION_H
