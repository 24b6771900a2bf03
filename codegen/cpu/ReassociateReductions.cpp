//===- ReassociateReductions.cpp - let LLVM vectorise reductions -*- C++ -*-===//
//
// LLVM's loop vectoriser keeps a float reduction scalar unless the adds may
// be reassociated: a dot product then runs one lane at a time. Marking the
// float arithmetic of linalg reduction payloads `reassoc contract` lets it
// split the sum across vector lanes and fuse multiply-adds. Results change
// in the last bits (summation order), as they do between any two BLAS
// libraries; element-wise ops keep strict IEEE semantics.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAREASSOCIATEREDUCTIONS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {
struct ReassociateReductionsPass
    : public mlir::strata::impl::StrataReassociateReductionsBase<
          ReassociateReductionsPass> {
  void runOnOperation() override {
    auto flags = arith::FastMathFlagsAttr::get(
        &getContext(),
        arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
    getOperation().walk([&](linalg::LinalgOp op) {
      if (op.getNumReductionLoops() == 0)
        return;
      op.getBlock()->walk([&](arith::ArithFastMathInterface math) {
        math->setAttr(math.getFastMathAttrName(), flags);
      });
    });
  }
};
} // namespace
