//===- CopiesToLinalg.cpp - memref.copy to linalg.copy ---------*- C++ -*-===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATACOPIESTOLINALG
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {
struct CopiesToLinalgPass
    : public mlir::strata::impl::StrataCopiesToLinalgBase<CopiesToLinalgPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp op : copies) {
      OpBuilder b(op);
      linalg::CopyOp::create(b, op.getLoc(), op.getSource(), op.getTarget());
      op.erase();
    }
  }
};
} // namespace
