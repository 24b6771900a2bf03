//===- Optimizer.cpp - the optimizer's ops to linalg ------------*- C++ -*-===//
//
// The step's scalars (learning rate, clipping factor, bias corrections) are
// 0-d linalg.generics computed once, in f64 where f32 would lose digits
// (1 - 0.999^t, the cosine); each parameter's update is then one
// all-parallel generic reading the parameter, its gradient and its state
// and writing all of them, with the scalars broadcast.
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::strata;
using namespace mlir::strata::detail;

namespace {

Value constant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

/// A 0-d tensor of `type` computed by `body` from the 0-d `inputs`' values.
Value scalarGeneric(
    OpBuilder &b, Location loc, ValueRange inputs, Type type,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  Value init = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, type);
  return buildPointwise(b, loc, inputs, {}, init, body);
}

/// `base^t` in f64, t an i32.
Value powerOf(OpBuilder &b, Location loc, double base, Value t) {
  Type f64 = b.getF64Type();
  Value tf = arith::SIToFPOp::create(b, loc, f64, t);
  return math::PowFOp::create(b, loc, constant(b, loc, f64, base), tf);
}

struct LrScheduleLowering : OpRewritePattern<LrScheduleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LrScheduleOp op,
                                PatternRewriter &rewriter) const override {
    double lr = op.getLr().convertToDouble();
    double warmup = static_cast<double>(op.getWarmupSteps());
    double total = static_cast<double>(op.getTotalSteps());
    double floor = op.getMinLrRatio().convertToDouble();
    LrSchedule schedule = op.getSchedule();
    Value rate = scalarGeneric(
        rewriter, op.getLoc(), op.getStep(), rewriter.getF32Type(),
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Type f64 = b.getF64Type();
          auto c = [&](double v) { return constant(b, loc, f64, v); };
          Value t = arith::SIToFPOp::create(b, loc, f64, args[0]);
          Value value = c(lr);
          if (schedule == LrSchedule::LinearWarmupCosineDecay) {
            // p = clamp((t - warmup) / (total - warmup), 0, 1)
            Value p = arith::DivFOp::create(
                b, loc, arith::SubFOp::create(b, loc, t, c(warmup)),
                c(total - warmup));
            p = arith::MaximumFOp::create(b, loc, p, c(0.0));
            p = arith::MinimumFOp::create(b, loc, p, c(1.0));
            Value cosine = math::CosOp::create(
                b, loc,
                arith::MulFOp::create(b, loc, p, c(3.14159265358979323846)));
            Value half = arith::MulFOp::create(
                b, loc, arith::AddFOp::create(b, loc, cosine, c(1.0)), c(0.5));
            Value factor = arith::AddFOp::create(
                b, loc, c(floor),
                arith::MulFOp::create(b, loc, half, c(1.0 - floor)));
            value = arith::MulFOp::create(b, loc, value, factor);
          }
          if (schedule != LrSchedule::Constant && warmup > 0) {
            Value ramp = arith::DivFOp::create(
                b, loc, arith::MinimumFOp::create(b, loc, t, c(warmup)),
                c(warmup));
            Value warming = arith::CmpFOp::create(
                b, loc, arith::CmpFPredicate::OLT, t, c(warmup));
            value = arith::SelectOp::create(
                b, loc, warming, arith::MulFOp::create(b, loc, c(lr), ramp),
                value);
          }
          return arith::TruncFOp::create(b, loc, b.getF32Type(), value);
        });
    rewriter.replaceOp(op, rate);
    return success();
  }
};

struct GlobalNormLowering : OpRewritePattern<GlobalNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GlobalNormOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type f64 = rewriter.getF64Type();
    // Sum of squares in f64: millions of f32 squares summed in order would
    // lose the small ones.
    Value empty =
        tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{}, f64);
    Value sum = linalg::FillOp::create(rewriter, loc,
                                       constant(rewriter, loc, f64, 0.0), empty)
                    .getResult(0);
    for (Value input : op.getInputs()) {
      unsigned rank = cast<RankedTensorType>(input.getType()).getRank();
      SmallVector<AffineMap> maps{rewriter.getMultiDimIdentityMap(rank),
                                  AffineMap::get(rank, 0, {}, ctx)};
      SmallVector<utils::IteratorType> iterators(
          rank, utils::IteratorType::reduction);
      sum = buildGeneric(rewriter, loc, input, sum, maps, iterators,
                         [&](OpBuilder &b, Location l, ValueRange args) {
                           Value x = arith::ExtFOp::create(b, l, f64, args[0]);
                           return arith::AddFOp::create(
                                      b, l, args[1],
                                      arith::MulFOp::create(b, l, x, x))
                               .getResult();
                         });
    }
    Value norm = scalarGeneric(
        rewriter, loc, sum, rewriter.getF32Type(),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          return arith::TruncFOp::create(b, l, b.getF32Type(),
                                         math::SqrtOp::create(b, l, args[0]));
        });
    rewriter.replaceOp(op, norm);
    return success();
  }
};

struct OptimizerUpdateLowering : OpRewritePattern<OptimizerUpdateOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(OptimizerUpdateOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    Optimizer kind = op.getOptimizer();
    double wd = op.getWeightDecay().convertToDouble();
    double b1 = op.getBeta1().convertToDouble();
    double b2 = op.getBeta2().convertToDouble();
    double eps = op.getEps().convertToDouble();
    double maxNorm = op.getMaxGradNorm().convertToDouble();
    Type f32 = rewriter.getF32Type();

    // The step's scalars, once per parameter (CSE and fusion merge the
    // identical ones of different parameters).
    Value clip = scalarGeneric(
        rewriter, loc, op.getGradNorm(), f32,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          if (maxNorm <= 0)
            return constant(b, l, f32, 1.0);
          // min(1, max / (norm + 1e-6)), as torch's clip_grad_norm_.
          Value coef = arith::DivFOp::create(
              b, l, constant(b, l, f32, maxNorm),
              arith::AddFOp::create(b, l, args[0], constant(b, l, f32, 1e-6)));
          return arith::MinimumFOp::create(b, l, coef,
                                           constant(b, l, f32, 1.0));
        });
    SmallVector<Value> scalars{op.getLr(), clip};
    if (kind == Optimizer::AdamW) {
      // lr / (1 - b1^t) and sqrt(1 - b2^t), in f64.
      scalars.push_back(scalarGeneric(
          rewriter, loc, ValueRange{op.getStep(), op.getLr()}, f32,
          [&](OpBuilder &b, Location l, ValueRange args) -> Value {
            Type f64 = b.getF64Type();
            Value bc1 = arith::SubFOp::create(b, l, constant(b, l, f64, 1.0),
                                              powerOf(b, l, b1, args[0]));
            Value lr = arith::ExtFOp::create(b, l, f64, args[1]);
            return arith::TruncFOp::create(
                b, l, f32, arith::DivFOp::create(b, l, lr, bc1));
          }));
      scalars.push_back(scalarGeneric(
          rewriter, loc, op.getStep(), f32,
          [&](OpBuilder &b, Location l, ValueRange args) -> Value {
            Type f64 = b.getF64Type();
            Value bc2 = arith::SubFOp::create(b, l, constant(b, l, f64, 1.0),
                                              powerOf(b, l, b2, args[0]));
            return arith::TruncFOp::create(b, l, f32,
                                           math::SqrtOp::create(b, l, bc2));
          }));
    }

    auto type = cast<RankedTensorType>(op.getParam().getType());
    unsigned rank = type.getRank();
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<Value> inputs{op.getParam(), op.getGrad()};
    llvm::append_range(inputs, op.getState());
    unsigned tensors = inputs.size();
    llvm::append_range(inputs, scalars);
    SmallVector<AffineMap> maps(tensors, rewriter.getMultiDimIdentityMap(rank));
    maps.append(scalars.size(), AffineMap::get(rank, 0, {}, ctx));
    SmallVector<Value> inits;
    for (unsigned i = 0; i < 1 + op.getState().size(); ++i)
      inits.push_back(
          emptyTensor(rewriter, loc, op.getParam(), type.getShape(), f32));
    maps.append(inits.size(), rewriter.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange(ValueRange(inits)), inputs, inits, maps,
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          SmallVector<Value> out =
              updateBody(b, l, kind, wd, b1, b2, eps, args.take_front(tensors),
                         args.slice(tensors, scalars.size()));
          linalg::YieldOp::create(b, l, out);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }

  /// The element's new parameter and state from `v` = (p, g, state...)
  /// and `s` = (lr, clip[, lr / (1 - b1^t), sqrt(1 - b2^t)]).
  static SmallVector<Value> updateBody(OpBuilder &b, Location l, Optimizer kind,
                                       double wd, double b1, double b2,
                                       double eps, ValueRange v, ValueRange s) {
    Type f32 = b.getF32Type();
    auto c = [&](double x) { return constant(b, l, f32, x); };
    auto mul = [&](Value x, Value y) {
      return arith::MulFOp::create(b, l, x, y).getResult();
    };
    auto add = [&](Value x, Value y) {
      return arith::AddFOp::create(b, l, x, y).getResult();
    };
    auto sub = [&](Value x, Value y) {
      return arith::SubFOp::create(b, l, x, y).getResult();
    };
    Value p = v[0], g = mul(v[1], s[1]), lr = s[0];
    // Decoupled weight decay (AdamW, Lion): p *= 1 - lr * wd.
    auto decayed = [&]() {
      return wd == 0 ? p : mul(p, sub(c(1.0), mul(lr, c(wd))));
    };
    switch (kind) {
    case Optimizer::AdamW: {
      // torch: m.lerp_(g, 1 - b1); v = b2 v + (1 - b2) g^2.
      Value m = add(v[2], mul(sub(g, v[2]), c(1.0 - b1)));
      Value vv = add(mul(v[3], c(b2)), mul(mul(g, g), c(1.0 - b2)));
      Value denom =
          add(arith::DivFOp::create(b, l, math::SqrtOp::create(b, l, vv), s[3]),
              c(eps));
      Value step = mul(s[2], arith::DivFOp::create(b, l, m, denom));
      return {sub(decayed(), step), m, vv};
    }
    case Optimizer::Lion: {
      Value blend = add(mul(v[2], c(b1)), mul(g, c(1.0 - b1)));
      Value zero = c(0.0);
      Value sign = arith::SelectOp::create(
          b, l,
          arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, blend, zero),
          c(1.0),
          arith::SelectOp::create(
              b, l,
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, blend,
                                    zero),
              c(-1.0), zero));
      Value m = add(mul(v[2], c(b2)), mul(g, c(1.0 - b2)));
      return {sub(decayed(), mul(lr, sign)), m};
    }
    case Optimizer::Sgd: {
      // torch.optim.SGD: coupled decay, momentum without dampening.
      Value gw = wd == 0 ? g : add(g, mul(p, c(wd)));
      Value buf = add(mul(v[2], c(b1)), gw);
      return {sub(p, mul(lr, buf)), buf};
    }
    }
    llvm_unreachable("unknown optimizer");
  }
};

/// The sign of the load error in integers (E * load[e] against the total,
/// exactly: a mean of counts is rarely a float), then one f32 add per
/// expert, as torch's `bias.add_(sign(err), alpha=rate)` rounds it.
struct BiasBalanceLowering : OpRewritePattern<BiasBalanceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BiasBalanceOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getBias().getType());
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "needs a static expert count");
    int64_t experts = type.getDimSize(0);
    Type i64 = rewriter.getI64Type();
    Value empty =
        tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{}, i64);
    Value zero =
        arith::ConstantOp::create(rewriter, loc, rewriter.getI64IntegerAttr(0));
    Value init =
        linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);
    Value total = buildGeneric(
        rewriter, loc, op.getLoad(), init,
        {rewriter.getMultiDimIdentityMap(1), AffineMap::get(1, 0, {}, ctx)},
        {utils::IteratorType::reduction},
        [](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value n = arith::ExtSIOp::create(b, l, b.getI64Type(), args[0]);
          return arith::AddIOp::create(b, l, args[1], n);
        });
    float rate = static_cast<float>(op.getRate().convertToDouble());
    Value out = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                        type.getElementType());
    Value result = buildGeneric(
        rewriter, loc, {op.getBias(), op.getLoad(), total}, out,
        {rewriter.getMultiDimIdentityMap(1), rewriter.getMultiDimIdentityMap(1),
         AffineMap::get(1, 0, {}, ctx), rewriter.getMultiDimIdentityMap(1)},
        {utils::IteratorType::parallel},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Type f32 = b.getF32Type();
          Value scaled = arith::MulIOp::create(
              b, l, arith::ExtSIOp::create(b, l, b.getI64Type(), args[1]),
              arith::ConstantOp::create(b, l, b.getI64IntegerAttr(experts)));
          // err = total - E * load: > 0 under-loaded, < 0 over-loaded.
          Value under = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt,
                                              args[2], scaled);
          Value over = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt,
                                             args[2], scaled);
          Value step = arith::SelectOp::create(
              b, l, under, constant(b, l, f32, rate),
              arith::SelectOp::create(b, l, over, constant(b, l, f32, -rate),
                                      constant(b, l, f32, 0.0)));
          return arith::AddFOp::create(b, l, args[0], step);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::strata::populateOptimizerToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LrScheduleLowering, GlobalNormLowering, OptimizerUpdateLowering,
               BiasBalanceLowering>(patterns.getContext());
}
