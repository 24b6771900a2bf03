//===- MoE.cpp - router, routed experts and balance loss to linalg -*- C++ -*-===//
//
// The router selects by rank: an expert's rank is the number of experts
// before it in a total order on (score, index) -- larger scores first, NaN
// after every number (-inf included), ties (NaN with NaN too) to the lower
// index -- so top-k is "rank < k" and the j-th selection is the expert of
// rank j. This is O(E^2) per token but branch-free and exact, and agrees
// with torch.topk's descending order wherever no score is NaN. Because the
// order is total, ranks are a permutation whatever the weights hold, and
// slot j's expert is chosen by a select, never a sum, so it is in [0, E)
// by construction (docs/spec.md, strata.router, step 5).
// Group-limited routing ranks groups the same way and masks experts of
// dropped groups before ranking experts.
//
// Routed experts are computed only for the selected (token, expert) pairs,
// in one of two forms: grouped by expert (strata_kernel.expert_sort
// counting-sorts the pairs by expert, then strata_kernel.grouped_matmul runs
// one GEMM per expert over its contiguous rows, so each expert's weights are
// read once per tile of its rows; what both targets compile), or each pair
// gathering its expert's weights inside the contraction (no control flow; the
// reference form). Inference semantics: router noise and expert capacity apply
// in training only.
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"
#include "codegen/LoweringUtils.h"

#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::strata;
using namespace mlir::strata::detail;

namespace {

using IT = utils::IteratorType;

Value toIndex(OpBuilder &b, Location l, Value v) {
  return arith::IndexCastOp::create(b, l, b.getIndexType(), v);
}

/// The (token, slot) pairs of a [B, S, K] index tensor counting-sorted by
/// expert (strata_kernel.expert_sort, stable, so each expert's pairs stay
/// in pair order): expert e owns sorted rows offsets[e] .. offsets[e + 1];
/// row r holds pair order[r]; pair p lands in row position[p]. Pair p is
/// (b, s, slot) of the indices in row-major order.
struct SortedPairs {
  Value offsets, order, position; ///< [E + 1], [P], [P] i32
  Value pairs, seq;               ///< P = B * S * K and S, as indices
  int64_t k = 0;

  static SortedPairs build(OpBuilder &b, Location loc, Value idx,
                           int64_t numExperts) {
    SortedPairs sp;
    sp.k = cast<RankedTensorType>(idx.getType()).getDimSize(2);
    sp.seq = tensor::DimOp::create(b, loc, idx, 1);
    sp.pairs = arith::MulIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, tensor::DimOp::create(b, loc, idx, 0),
                              sp.seq),
        arith::ConstantIndexOp::create(b, loc, sp.k));
    Type i32 = b.getI32Type();
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, idx, SmallVector<ReassociationIndices>{{0, 1, 2}});
    auto vector = [&](ArrayRef<int64_t> shape, ValueRange sizes) -> Value {
      return tensor::EmptyOp::create(b, loc, shape, i32, sizes);
    };
    Value pairsInit = vector({ShapedType::kDynamic}, {sp.pairs});
    auto sort = kernel::ExpertSortOp::create(
        b, loc,
        TypeRange{RankedTensorType::get({numExperts + 1}, i32),
                  pairsInit.getType(), pairsInit.getType()},
        flat, vector({numExperts + 1}, {}), pairsInit,
        vector({ShapedType::kDynamic}, {sp.pairs}),
        b.getI64IntegerAttr(numExperts));
    sp.offsets = sort.getResults()[0];
    sp.order = sort.getResults()[1];
    sp.position = sort.getResults()[2];
    return sp;
  }

  /// (b, s, slot) of pair `p`: token p / K, slot p % K; token t is
  /// (t / S, t % S).
  SmallVector<Value> indicesOf(OpBuilder &b, Location l, Value p) const {
    Value kc = arith::ConstantIndexOp::create(b, l, k);
    Value t = arith::DivUIOp::create(b, l, p, kc);
    return {arith::DivUIOp::create(b, l, t, seq),
            arith::RemUIOp::create(b, l, t, seq),
            arith::RemUIOp::create(b, l, p, kc)};
  }

  /// The sorted row of (b, s, slot): position[(b * S + s) * K + slot].
  Value rowOf(OpBuilder &b, Location l, Value bi, Value si, Value slot) const {
    Value token = arith::AddIOp::create(
        b, l, arith::MulIOp::create(b, l, bi, seq), si);
    Value pair = arith::AddIOp::create(
        b, l,
        arith::MulIOp::create(b, l, token,
                              arith::ConstantIndexOp::create(b, l, k)),
        slot);
    return toIndex(b, l, tensor::ExtractOp::create(b, l, position, pair));
  }

  /// src [B, S, D] read in sorted order: rows[r, :] = src[token of
  /// order[r], :].
  Value gather(OpBuilder &b, Location loc, Value src) const {
    int64_t d = cast<RankedTensorType>(src.getType()).getDimSize(2);
    Value init = tensor::EmptyOp::create(
        b, loc, ArrayRef<int64_t>{ShapedType::kDynamic, d}, b.getF32Type(),
        ValueRange{pairs});
    return buildPointwise(
        b, loc, {order}, {dimsMap(b.getContext(), 2, {0})}, init,
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          SmallVector<Value> bsk = indicesOf(nb, l, toIndex(nb, l, a[0]));
          return tensor::ExtractOp::create(
              nb, l, src,
              ValueRange{bsk[0], bsk[1], linalg::IndexOp::create(nb, l, 1)});
        });
  }
};

/// out[b, s, :] = sum over slots of (weights[b, s, slot] *) rows[row of
/// (b, s, slot), :], in slot order: the sorted rows combined back per token
/// (the forward's weighted sum; its backward's plain one). `slots` is the
/// [B, S, K] weights, or any [B, S, K] tensor when unweighted (it bounds
/// the slot loop); `like` [B, S, D] gives the result's shape.
Value combineSlots(OpBuilder &b, Location loc, const SortedPairs &sp,
                   Value rows, Value slots, bool weighted, Value like) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(like.getType());
  return buildGeneric(
      b, loc, {slots},
      filledTensor(b, loc, like, type.getShape(), b.getF32Type(), 0.0),
      {dimsMap(ctx, 4, {0, 1, 3}), dimsMap(ctx, 4, {0, 1, 2})},
      {IT::parallel, IT::parallel, IT::parallel, IT::reduction},
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value row = sp.rowOf(nb, l, linalg::IndexOp::create(nb, l, 0),
                             linalg::IndexOp::create(nb, l, 1),
                             linalg::IndexOp::create(nb, l, 3));
        Value v = tensor::ExtractOp::create(
            nb, l, rows, ValueRange{row, linalg::IndexOp::create(nb, l, 2)});
        if (weighted)
          v = arith::MulFOp::create(nb, l, a[0], v);
        return arith::AddFOp::create(nb, l, a[1], v);
      });
}

/// init[r, n] += sum_d rows[r, d] * weights[e(r), n, d] (one GEMM per
/// expert over its sorted rows; strata_kernel.grouped_matmul).
Value groupedProduct(OpBuilder &b, Location loc, const SortedPairs &sp,
                     Value rows, Value weights, Value init) {
  return kernel::GroupedMatmulOp::create(b, loc, TypeRange{init.getType()},
                                         rows, weights, sp.offsets, init)
      .getResult()
      .front();
}

/// Whether `x` >= `y` in the router's order on scores, where NaN sits below
/// every number and equals itself.
Value atLeast(OpBuilder &b, Location l, Value x, Value y) {
  return arith::OrIOp::create(
      b, l, arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, x, y),
      arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, y, y));
}

/// Whether expert j (score `theirs`) ranks before expert i (score `mine`):
/// a higher score, or an equal one and a lower index. A strict total order,
/// NaN included, so the ranks it counts form a permutation.
Value ranksBefore(OpBuilder &b, Location l, Value theirs, Value mine, Value j,
                  Value i) {
  Value lower = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, j, i);
  Value notAbove = atLeast(b, l, mine, theirs);
  Value above = arith::XOrIOp::create(
      b, l, notAbove, arith::ConstantOp::create(b, l, b.getBoolAttr(true)));
  return arith::SelectOp::create(b, l, lower, atLeast(b, l, theirs, mine),
                                 above);
}

/// rank[b, s, e] among the experts of e's group (groups of `size`
/// consecutive experts; one group when size == E): how many come before it
/// in ranksBefore's order. Computed on a [B, S, groups, size] view so
/// every loop dim appears plainly in an indexing map.
Value rankWithinGroups(OpBuilder &b, Location loc, Value scores, int64_t size) {
  auto type = cast<RankedTensorType>(scores.getType());
  MLIRContext *ctx = b.getContext();
  int64_t e = type.getDimSize(2), groups = e / size;
  auto grouped = [&](Type elt) {
    return RankedTensorType::get(
        {type.getDimSize(0), type.getDimSize(1), groups, size}, elt);
  };
  SmallVector<ReassociationIndices> assoc{{0}, {1}, {2, 3}};
  Value view = tensor::ExpandShapeOp::create(b, loc, grouped(b.getF32Type()),
                                             scores, assoc);
  Value empty = emptyTensor(b, loc, scores, grouped(b.getI32Type()).getShape(),
                            b.getI32Type());
  Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  // dims: b, s, g, i (this expert), j (another expert of the group)
  Value rank4 = buildGeneric(
      b, loc, {view, view}, init,
      {dimsMap(ctx, 5, {0, 1, 2, 3}), dimsMap(ctx, 5, {0, 1, 2, 4}),
       dimsMap(ctx, 5, {0, 1, 2, 3})},
      {IT::parallel, IT::parallel, IT::parallel, IT::parallel, IT::reduction},
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value i = linalg::IndexOp::create(nb, l, 3);
        Value j = linalg::IndexOp::create(nb, l, 4);
        Value before = ranksBefore(nb, l, args[1], args[0], j, i);
        Value one = arith::ExtUIOp::create(nb, l, nb.getI32Type(), before);
        return arith::AddIOp::create(nb, l, args[2], one);
      });
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(type.getShape(), b.getI32Type()), rank4,
      assoc);
}

struct RouterLowering : OpRewritePattern<RouterOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouterOp op,
                                PatternRewriter &rewriter) const override {
    Value logits = op.getLogits();
    auto type = cast<RankedTensorType>(logits.getType());
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    // 0. Training noise (with a step): everything below sees noisy logits.
    double noiseStd = op.getNoiseStd().convertToDouble();
    if (op.getStep() && noiseStd > 0)
      logits = buildRouterNoise(rewriter, loc, logits, op.getStep(), noiseStd,
                                static_cast<int64_t>(op.getSeed()),
                                static_cast<int64_t>(op.getSalt()));
    int64_t e = op.getNumExpertsAttr().getInt();
    int64_t k = op.getTopKAttr().getInt();
    int64_t groups = op.getNGroupAttr().getInt();
    int64_t keepGroups = op.getTopkGroupAttr().getInt();
    int64_t groupSize = e / groups;
    Type f32 = rewriter.getF32Type();
    AffineMap id3 = rewriter.getMultiDimIdentityMap(3);
    AffineMap row3 = dimsMap(ctx, 3, {0, 1});
    ArrayRef<int64_t> shape = type.getShape();
    SmallVector<int64_t> rowShape{shape[0], shape[1]};
    auto like = [&](ArrayRef<int64_t> s, Type t) {
      return emptyTensor(rewriter, loc, logits, s, t);
    };

    // 1. Scores.
    Value scores;
    if (op.getScoring() == RouterScoring::Sigmoid) {
      scores = buildPointwise(
          rewriter, loc, {logits}, {}, like(shape, f32),
          [&](OpBuilder &b, Location l, ValueRange args) -> Value {
            Value one = f32Constant(b, l, 1.0);
            return arith::DivFOp::create(
                b, l, one,
                arith::AddFOp::create(
                    b, l, one,
                    math::ExpOp::create(b, l,
                                        arith::NegFOp::create(b, l, args[0]))));
          });
    } else {
      Value max =
          buildGeneric(rewriter, loc, {logits},
                       filledTensor(rewriter, loc, logits, rowShape, f32,
                                    -std::numeric_limits<float>::infinity()),
                       {id3, row3}, {IT::parallel, IT::parallel, IT::reduction},
                       [](OpBuilder &b, Location l, ValueRange a) -> Value {
                         return arith::MaximumFOp::create(b, l, a[0], a[1]);
                       });
      Value exps = buildPointwise(
          rewriter, loc, {logits, max}, {id3, row3}, like(shape, f32),
          [](OpBuilder &b, Location l, ValueRange a) -> Value {
            return math::ExpOp::create(b, l,
                                       arith::SubFOp::create(b, l, a[0], a[1]));
          });
      Value sum =
          buildGeneric(rewriter, loc, {exps},
                       filledTensor(rewriter, loc, logits, rowShape, f32, 0.0),
                       {id3, row3}, {IT::parallel, IT::parallel, IT::reduction},
                       [](OpBuilder &b, Location l, ValueRange a) -> Value {
                         return arith::AddFOp::create(b, l, a[0], a[1]);
                       });
      scores = buildPointwise(
          rewriter, loc, {exps, sum}, {id3, row3}, like(shape, f32),
          [](OpBuilder &b, Location l, ValueRange a) -> Value {
            return arith::DivFOp::create(b, l, a[0], a[1]);
          });
    }

    // 2. Selection scores: + bias (V3), then group masking.
    Value select = scores;
    if (Value bias = op.getBias())
      select =
          buildPointwise(rewriter, loc, {scores, bias},
                         {id3, dimsMap(ctx, 3, {2})}, like(shape, f32),
                         [](OpBuilder &b, Location l, ValueRange a) -> Value {
                           return arith::AddFOp::create(b, l, a[0], a[1]);
                         });
    if (groups > 1) {
      // Group score: its best expert (softmax) or its best two (sigmoid).
      int64_t perGroup = op.getScoring() == RouterScoring::Sigmoid ? 2 : 1;
      Value inGroupRank = rankWithinGroups(rewriter, loc, select, groupSize);
      SmallVector<int64_t> groupShape{shape[0], shape[1], groups};
      AffineMap expertToGroup =
          AffineMap::get(3, 0,
                         {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
                          getAffineDimExpr(2, ctx).floorDiv(groupSize)},
                         ctx);
      Value groupScore = buildGeneric(
          rewriter, loc, {select, inGroupRank},
          filledTensor(rewriter, loc, logits, groupShape, f32, 0.0),
          {id3, id3, expertToGroup},
          {IT::parallel, IT::parallel, IT::reduction},
          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value top = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::slt, a[1],
                arith::ConstantOp::create(b, l, b.getI32IntegerAttr(perGroup)));
            return arith::AddFOp::create(
                b, l, a[2],
                arith::SelectOp::create(b, l, top, a[0],
                                        f32Constant(b, l, 0.0)));
          });
      Value groupRank = rankWithinGroups(rewriter, loc, groupScore, groups);
      select = buildPointwise(
          rewriter, loc, {select, groupRank}, {id3, expertToGroup},
          like(shape, f32),
          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            // Excluded experts become NaN, which ranks after every number,
            // and a kept expert's NaN becomes -inf: every kept expert then
            // ranks before every excluded one, NaN or not.
            Value kept = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::slt, a[1],
                arith::ConstantOp::create(b, l,
                                          b.getI32IntegerAttr(keepGroups)));
            Value isNaN = arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO,
                                                a[0], a[0]);
            Value number = arith::SelectOp::create(
                b, l, isNaN,
                f32Constant(b, l, -std::numeric_limits<float>::infinity()),
                a[0]);
            return arith::SelectOp::create(
                b, l, kept, number,
                f32Constant(b, l, std::numeric_limits<float>::quiet_NaN()));
          });
    }

    // 3. Rank experts; slot j takes the expert of rank j. The select keeps
    // the id in [0, E) even if ranks were not a permutation.
    Value rank = rankWithinGroups(rewriter, loc, select, e);
    SmallVector<int64_t> topShape{shape[0], shape[1], k};
    AffineMap slot4 = dimsMap(ctx, 4, {0, 1, 2});   // b, s, j
    AffineMap expert4 = dimsMap(ctx, 4, {0, 1, 3}); // b, s, e
    SmallVector<IT> slotIters{IT::parallel, IT::parallel, IT::parallel,
                              IT::reduction};
    Type i32 = rewriter.getI32Type();
    Value zeroI =
        arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(0));
    Value indicesInit =
        linalg::FillOp::create(rewriter, loc, zeroI, like(topShape, i32))
            .getResult(0);
    Value indices = buildGeneric(
        rewriter, loc, {rank}, indicesInit, {expert4, slot4}, slotIters,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value j = arith::IndexCastOp::create(
              b, l, b.getI32Type(), linalg::IndexOp::create(b, l, 2));
          Value ex = arith::IndexCastOp::create(
              b, l, b.getI32Type(), linalg::IndexOp::create(b, l, 3));
          Value hit =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[0], j);
          return arith::SelectOp::create(b, l, hit, ex, a[1]);
        });
    Value weights = buildGeneric(
        rewriter, loc, {rank, scores},
        filledTensor(rewriter, loc, logits, topShape, f32, 0.0),
        {expert4, expert4, slot4}, slotIters,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value j = arith::IndexCastOp::create(
              b, l, b.getI32Type(), linalg::IndexOp::create(b, l, 2));
          Value hit =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[0], j);
          return arith::AddFOp::create(
              b, l, a[2],
              arith::SelectOp::create(b, l, hit, a[1], f32Constant(b, l, 0)));
        });

    // 4. Renormalise and scale.
    double scaling = op.getRoutedScalingFactor().convertToDouble();
    if (op.getNormTopkProb()) {
      Value sum =
          buildGeneric(rewriter, loc, {weights},
                       filledTensor(rewriter, loc, logits, rowShape, f32, 0.0),
                       {id3, row3}, {IT::parallel, IT::parallel, IT::reduction},
                       [](OpBuilder &b, Location l, ValueRange a) -> Value {
                         return arith::AddFOp::create(b, l, a[0], a[1]);
                       });
      weights = buildPointwise(
          rewriter, loc, {weights, sum}, {id3, row3}, like(topShape, f32),
          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value denom =
                arith::AddFOp::create(b, l, a[1], f32Constant(b, l, 1e-20));
            return arith::MulFOp::create(
                b, l, arith::DivFOp::create(b, l, a[0], denom),
                f32Constant(b, l, scaling));
          });
    } else if (scaling != 1.0) {
      weights =
          buildPointwise(rewriter, loc, {weights}, {}, like(topShape, f32),
                         [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                           return arith::MulFOp::create(
                               b, l, a[0], f32Constant(b, l, scaling));
                         });
    }
    rewriter.replaceOp(op, {weights, indices, scores});
    return success();
  }
};

/// moe_experts' gate, up and down weights (operands 3-5), which
/// --weights-dtype may store in bf16 or f16.
constexpr unsigned kExpertWeights[] = {3, 4, 5};

/// weight[expert, i, j] as f32, i and j the loop dims `rowDim`, `colDim`
/// of the enclosing generic (a narrow weight widened as read).
Value expertWeight(OpBuilder &b, Location l, Value weight, Value expert,
                   unsigned rowDim, unsigned colDim) {
  return widenToF32(
      b, l,
      tensor::ExtractOp::create(b, l, weight,
                                ValueRange{expert,
                                           linalg::IndexOp::create(b, l, rowDim),
                                           linalg::IndexOp::create(b, l, colDim)}));
}

/// y = sum_k w_k * down_e(silu(gate_e(x)) * up_e(x)) for e = indices[k],
/// reading each selected expert's weights by gather.
struct MoEExpertsLowering : OpRewritePattern<MoEExpertsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MoEExpertsOp op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    if (!isF32WithNarrowWeights(op, kExpertWeights))
      return rewriter.notifyMatchFailure(op, "only f32 (and narrow expert "
                                             "weights) is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    auto gateType = cast<RankedTensorType>(op.getGateProj().getType());
    int64_t f = gateType.getDimSize(1);
    int64_t k = op.getTopKAttr().getInt();
    // Ids come from the router, in range by construction; clamped here too
    // so that the gathers stay in bounds whatever produced them.
    int64_t numExperts = op.getNumExpertsAttr().getInt();
    if (ShapedType::isDynamic(f))
      return rewriter.notifyMatchFailure(op, "needs a static expert width");
    Value idx = op.getIndices();
    SmallVector<int64_t> hiddenShape{type.getDimSize(0), type.getDimSize(1), k,
                                     f};

    // h[b, s, k, f] = sum_d x[b, s, d] * W[idx[b, s, k], f, d]
    auto project = [&](Value weight) -> Value {
      return buildGeneric(
          rewriter, loc, {x, idx},
          filledTensor(rewriter, loc, x, hiddenShape, f32, 0.0),
          {dimsMap(ctx, 5, {0, 1, 4}), dimsMap(ctx, 5, {0, 1, 2}),
           dimsMap(ctx, 5, {0, 1, 2, 3})},
          {IT::parallel, IT::parallel, IT::parallel, IT::parallel,
           IT::reduction},
          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value w = expertWeight(b, l, weight,
                                   clampedIndex(b, l, a[1], numExperts), 3, 4);
            return arith::AddFOp::create(b, l, a[2],
                                         arith::MulFOp::create(b, l, a[0], w));
          });
    };
    Value gate = project(op.getGateProj());
    Value up = project(op.getUpProj());
    Value act = buildPointwise(
        rewriter, loc, {gate, up}, {},
        emptyTensor(rewriter, loc, x, hiddenShape, f32),
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::MulFOp::create(b, l, buildSilu(b, l, a[0]), a[1]);
        });
    // y[b, s, o] = sum_{k, f} w[b, s, k] * act[b, s, k, f] * Wd[idx, o, f]
    Value down = op.getDownProj();
    Value y =
        buildGeneric(rewriter, loc, {op.getWeights(), act, idx},
                     filledTensor(rewriter, loc, x, type.getShape(), f32, 0.0),
                     {dimsMap(ctx, 5, {0, 1, 3}), dimsMap(ctx, 5, {0, 1, 3, 4}),
                      dimsMap(ctx, 5, {0, 1, 3}), dimsMap(ctx, 5, {0, 1, 2})},
                     {IT::parallel, IT::parallel, IT::parallel, IT::reduction,
                      IT::reduction},
                     [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                       Value w = expertWeight(
                           b, l, down, clampedIndex(b, l, a[2], numExperts), 2,
                           4);
                       Value term = arith::MulFOp::create(
                           b, l, arith::MulFOp::create(b, l, a[0], a[1]), w);
                       return arith::AddFOp::create(b, l, a[3], term);
                     });
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// The same computation grouped by expert: the N*K (token, slot) pairs are
/// counting-sorted by expert (strata_kernel.expert_sort), their inputs gathered
/// into one [N*K, D] matrix, and strata_kernel.grouped_matmul runs gate, up and
/// down on each expert's contiguous rows with that expert's weights, read
/// once per tile of rows instead of once per token. A final gather weights
/// each token's K rows and sums them in slot order.
struct GroupedMoEExpertsLowering : OpRewritePattern<MoEExpertsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MoEExpertsOp op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    auto gateType = cast<RankedTensorType>(op.getGateProj().getType());
    if (!isF32WithNarrowWeights(op, kExpertWeights))
      return rewriter.notifyMatchFailure(op, "only f32 (and narrow expert "
                                             "weights) is lowered here");
    int64_t numExperts = gateType.getDimSize(0), f = gateType.getDimSize(1);
    int64_t d = type.getDimSize(2);
    if (ShapedType::isDynamic(numExperts) || ShapedType::isDynamic(f) ||
        ShapedType::isDynamic(d))
      return rewriter.notifyMatchFailure(op, "needs static expert shapes");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Type f32 = b.getF32Type();
    SortedPairs sp = SortedPairs::build(b, loc, op.getIndices(), numExperts);
    Value rows = sp.gather(b, loc, x);

    // Per expert: its rows through gate, up, SiLU and down.
    auto grouped = [&](Value input, Value weights, int64_t cols) -> Value {
      return groupedProduct(
          b, loc, sp, input, weights,
          filledTensor(b, loc, input, {ShapedType::kDynamic, cols}, f32, 0.0));
    };
    Value gate = grouped(rows, op.getGateProj(), f);
    Value up = grouped(rows, op.getUpProj(), f);
    Value act = buildPointwise(
        b, loc, {gate, up}, {},
        emptyTensor(b, loc, gate, {ShapedType::kDynamic, f}, f32),
        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::MulFOp::create(nb, l, buildSilu(nb, l, a[0]), a[1]);
        });
    Value expertOut = grouped(act, op.getDownProj(), d);

    // y[b, s, o] = sum_k w[b, s, k] * expertOut[position[pair], o]
    Value y = combineSlots(b, loc, sp, expertOut, op.getWeights(),
                           /*weighted=*/true, x);
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// The products of int8 expert weights with the (token, expert) rows
/// sorted by expert, each row scaled by its expert's weight scales: what
/// strata.quantized_moe_experts and its calibration view compute.
class QuantizedExpertProducts {
public:
  QuantizedExpertProducts(OpBuilder &b, Location loc, Value indices,
                          int64_t numExperts)
      : b(b), loc(loc), numExperts(numExperts),
        sp(SortedPairs::build(b, loc, indices, numExperts)) {
    flatIndices = tensor::CollapseShapeOp::create(
        b, loc, indices, SmallVector<ReassociationIndices>{{0, 1, 2}});
  }

  const SortedPairs &pairs() const { return sp; }

  /// The expert of sorted row r: indices[order[r]].
  Value expertOf(OpBuilder &nb, Location l, Value r) const {
    Value pair = toIndex(nb, l, tensor::ExtractOp::create(nb, l, sp.order, r));
    Value e = tensor::ExtractOp::create(nb, l, flatIndices, pair);
    return clampedIndex(nb, l, e, numExperts);
  }

  /// A per-expert parameter [E] read for each sorted row of `rows`.
  Value perRow(Value rows, Value param) const {
    return buildPointwise(
        b, loc, {}, {},
        emptyTensor(b, loc, rows, {ShapedType::kDynamic}, b.getF32Type()),
        [&](OpBuilder &nb, Location l, ValueRange) -> Value {
          Value e = expertOf(nb, l, linalg::IndexOp::create(nb, l, 0));
          return tensor::ExtractOp::create(nb, l, param, e);
        });
  }

  /// Sorted rows as the products read them: float (w8a16), or rounded to
  /// int8 with their scales (`dynamic`: each row its own; `inScale` and
  /// `inZero`, static w8a8: each row its expert's calibrated scale and
  /// zero point). Gate and up share one.
  struct Rows {
    Value values, scale, zero;
  };
  Rows quantized(Value input, bool dynamic, Value inScale,
                 Value inZero) const;

  /// `rows` times int8 `weights` [E, cols, K], each product row scaled by
  /// its expert's `scales` row and its activation scale; static w8a8's
  /// zero points corrected by the weights' `rowSums` [E, cols].
  Value product(const Rows &rows, Value weights, Value scales, int64_t cols,
                Value rowSums = Value()) const;

  /// silu(gate) * up of two products' rows.
  Value swiglu(Value gate, Value up) const {
    return buildPointwise(
        b, loc, {gate, up}, {},
        emptyTensor(b, loc, gate,
                    {ShapedType::kDynamic,
                     cast<RankedTensorType>(gate.getType()).getDimSize(1)},
                    b.getF32Type()),
        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::MulFOp::create(nb, l, buildSilu(nb, l, a[0]), a[1]);
        });
  }

private:
  OpBuilder &b;
  Location loc;
  int64_t numExperts;
  SortedPairs sp;
  Value flatIndices;
};

QuantizedExpertProducts::Rows
QuantizedExpertProducts::quantized(Value input, bool dynamic, Value inScale,
                                   Value inZero) const {
  Rows rows{input, Value(), Value()};
  if (inScale) {
    rows.scale = perRow(input, inScale);
    rows.zero = perRow(input, inZero);
    rows.values = quantizeOffsetRows(b, loc, input, rows.scale, rows.zero,
                                     dimsMap(b.getContext(), 2, {0}));
  } else if (dynamic) {
    rows.scale = rowScales(b, loc, input);
    rows.values = quantizeRows(b, loc, input, rows.scale, b.getI8Type());
  }
  return rows;
}

Value QuantizedExpertProducts::product(const Rows &rows, Value weights,
                                       Value scales, int64_t cols,
                                       Value rowSums) const {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Value input = rows.values, rowScale = rows.scale, rowZero = rows.zero;
  assert((!rowZero || rowSums) && "static w8a8 products need row sums");
  Value init;
  if (rowScale) {
    Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    init = linalg::FillOp::create(
               b, loc, zero,
               emptyTensor(b, loc, input, {ShapedType::kDynamic, cols},
                           b.getI32Type()))
               .getResult(0);
  } else {
    init = filledTensor(b, loc, input, {ShapedType::kDynamic, cols}, f32, 0.0);
  }
  Value sums = groupedProduct(b, loc, sp, input, weights, init);
  SmallVector<Value> inputs{sums};
  SmallVector<AffineMap> maps{dimsMap(ctx, 2, {0, 1})};
  for (Value perRowValue : {rowScale, rowZero})
    if (perRowValue) {
      inputs.push_back(perRowValue);
      maps.push_back(dimsMap(ctx, 2, {0}));
    }
  return buildPointwise(
      b, loc, inputs, maps,
      emptyTensor(b, loc, sums, {ShapedType::kDynamic, cols}, f32),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value e = expertOf(nb, l, linalg::IndexOp::create(nb, l, 0));
        Value n = linalg::IndexOp::create(nb, l, 1);
        Value s = tensor::ExtractOp::create(nb, l, scales, ValueRange{e, n});
        Value v = a[0];
        if (rowZero)
          v = unoffsetSum(
              nb, l, v,
              tensor::ExtractOp::create(nb, l, rowSums, ValueRange{e, n}),
              a[2]);
        if (rowScale)
          v = arith::MulFOp::create(
              nb, l, arith::SIToFPOp::create(nb, l, nb.getF32Type(), v), a[1]);
        return arith::MulFOp::create(nb, l, v, s);
      });
}

/// strata.quantized_moe_experts, grouped by expert as the float op (see
/// QuantizedExpertProducts for the schemes).
struct GroupedQuantizedMoEExpertsLowering
    : OpRewritePattern<QuantizedMoEExpertsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizedMoEExpertsOp op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    if (!isF32WithNarrowWeights(op, {}))
      return rewriter.notifyMatchFailure(op, "only f32 activations");
    auto gateType = cast<RankedTensorType>(op.getGateProj().getType());
    int64_t numExperts = gateType.getDimSize(0), f = gateType.getDimSize(1);
    int64_t d = type.getDimSize(2);
    Location loc = op.getLoc();
    bool dynamic = op.getScheme() == QuantScheme::W8A8Dynamic;
    QuantizedExpertProducts experts(rewriter, loc, op.getIndices(),
                                    numExperts);
    const SortedPairs &sp = experts.pairs();
    auto rows = experts.quantized(sp.gather(rewriter, loc, x), dynamic,
                                  op.getInputScale(), op.getInputZeroPoint());
    Value gate = experts.product(rows, op.getGateProj(), op.getGateScale(), f,
                                 op.getGateRowSums());
    Value up = experts.product(rows, op.getUpProj(), op.getUpScale(), f,
                               op.getUpRowSums());
    auto hidden = experts.quantized(experts.swiglu(gate, up), dynamic,
                                    op.getDownInputScale(),
                                    op.getDownInputZeroPoint());
    Value expertOut = experts.product(
        hidden, op.getDownProj(), op.getDownScale(), d, op.getDownRowSums());
    rewriter.replaceOp(op, combineSlots(rewriter, loc, sp, expertOut,
                                        op.getWeights(), /*weighted=*/true, x));
    return success();
  }
};

/// strata.quantized_moe_expert_inputs: the sorted rows, their SwiGLU
/// hidden rows (w8a16 products) and the experts' offsets.
struct QuantizedMoEExpertInputsLowering
    : OpRewritePattern<QuantizedMoEExpertInputsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizedMoEExpertInputsOp op,
                                PatternRewriter &rewriter) const override {
    if (!cast<RankedTensorType>(op.getInput().getType())
             .getElementType()
             .isF32())
      return rewriter.notifyMatchFailure(op, "only f32 activations");
    auto gateType = cast<RankedTensorType>(op.getGateProj().getType());
    int64_t numExperts = gateType.getDimSize(0), f = gateType.getDimSize(1);
    Location loc = op.getLoc();
    QuantizedExpertProducts experts(rewriter, loc, op.getIndices(),
                                    numExperts);
    const SortedPairs &sp = experts.pairs();
    Value rows = sp.gather(rewriter, loc, op.getInput());
    auto plain = experts.quantized(rows, false, Value(), Value());
    Value gate = experts.product(plain, op.getGateProj(), op.getGateScale(), f);
    Value up = experts.product(plain, op.getUpProj(), op.getUpScale(), f);
    rewriter.replaceOp(op, {rows, experts.swiglu(gate, up), sp.offsets});
    return success();
  }
};

/// w with its last two dims swapped ([E, N, K] -> [E, K, N]): the grouped
/// product's weight for the transposed contraction of the backward.
Value transposeLast(OpBuilder &b, Location loc, Value w) {
  auto type = cast<RankedTensorType>(w.getType());
  MLIRContext *ctx = b.getContext();
  Value init = tensor::EmptyOp::create(
      b, loc,
      ArrayRef<int64_t>{type.getDimSize(0), type.getDimSize(2),
                        type.getDimSize(1)},
      type.getElementType());
  return buildGeneric(b, loc, {w}, init,
                      {dimsMap(ctx, 3, {0, 2, 1}), dimsMap(ctx, 3, {0, 1, 2})},
                      {IT::parallel, IT::parallel, IT::parallel},
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
}

/// out[e] = sum over expert e's sorted rows r of a[r, :]ᵀ b[r, :]: the
/// weights' gradient of a grouped product, [E, N, K] from a [P, N] and
/// b [P, K]. A loop over the experts, each contracting only its own
/// contiguous rows, so the work is the pairs', not E times the tokens'.
Value groupedWeightGrad(OpBuilder &b, Location loc, const SortedPairs &sp,
                        Value a, Value bm, int64_t numExperts) {
  int64_t n = cast<RankedTensorType>(a.getType()).getDimSize(1);
  int64_t k = cast<RankedTensorType>(bm.getType()).getDimSize(1);
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Value init = filledTensor(b, loc, a, {numExperts, n, k}, f32, 0.0);
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto loop = scf::ForOp::create(
      b, loc, cst(0), cst(numExperts), cst(1), ValueRange{init},
      [&](OpBuilder &nb, Location l, Value e, ValueRange acc) {
        Value start =
            toIndex(nb, l, tensor::ExtractOp::create(nb, l, sp.offsets, e));
        Value next = arith::AddIOp::create(
            nb, l, e, arith::ConstantIndexOp::create(nb, l, 1));
        Value end =
            toIndex(nb, l, tensor::ExtractOp::create(nb, l, sp.offsets, next));
        Value count = arith::SubIOp::create(nb, l, end, start);
        OpFoldResult zero = nb.getIndexAttr(0), one = nb.getIndexAttr(1);
        auto rowsOf = [&](Value m, int64_t cols) -> Value {
          return tensor::ExtractSliceOp::create(
              nb, l, m, ArrayRef<OpFoldResult>{start, zero},
              ArrayRef<OpFoldResult>{count, nb.getIndexAttr(cols)},
              ArrayRef<OpFoldResult>{one, one});
        };
        // dims n, k, r: out[e, n, k] += a[r, n] * b[r, k], accumulated in
        // place in the zeroed result's slice (no temporary per expert).
        Value slice = tensor::ExtractSliceOp::create(
            nb, l, RankedTensorType::get({n, k}, f32), acc[0],
            ArrayRef<OpFoldResult>{e, zero, zero},
            ArrayRef<OpFoldResult>{one, nb.getIndexAttr(n), nb.getIndexAttr(k)},
            ArrayRef<OpFoldResult>{one, one, one});
        Value grad = buildGeneric(
            nb, l, {rowsOf(a, n), rowsOf(bm, k)}, slice,
            {dimsMap(ctx, 3, {2, 0}), dimsMap(ctx, 3, {2, 1}),
             dimsMap(ctx, 3, {0, 1})},
            {IT::parallel, IT::parallel, IT::reduction},
            [](OpBuilder &bb, Location ll, ValueRange v) -> Value {
              return arith::AddFOp::create(
                  bb, ll, v[2], arith::MulFOp::create(bb, ll, v[0], v[1]));
            });
        Value updated = tensor::InsertSliceOp::create(
            nb, l, grad, acc[0], ArrayRef<OpFoldResult>{e, zero, zero},
            ArrayRef<OpFoldResult>{one, nb.getIndexAttr(n), nb.getIndexAttr(k)},
            ArrayRef<OpFoldResult>{one, one, one});
        scf::YieldOp::create(nb, l, updated);
      });
  return loop.getResult(0);
}

/// strata.moe_experts_backward grouped by expert, as the forward: the
/// pairs sorted by expert, the forward recomputed per expert on its rows
/// (gate, up, SiLU, down), then per expert again the products' transposes
/// for the activations' gradients and a contraction over each expert's
/// rows for its weights' gradients. Every GEMM covers the selected pairs
/// only (the dense form in Gradients.cpp computes every expert for every
/// token: E / top_k times the work). The gradients of a token's slots are
/// summed back in slot order, as the forward combines them.
struct GroupedMoEExpertsBackwardLowering
    : OpRewritePattern<MoEExpertsBackwardOp> {
  explicit GroupedMoEExpertsBackwardLowering(MLIRContext *ctx)
      : OpRewritePattern(ctx, /*benefit=*/2) {}

  LogicalResult matchAndRewrite(MoEExpertsBackwardOp op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getInput(), w = op.getWeights(), dy = op.getResultGrad();
    Value gate = op.getGateProj(), up = op.getUpProj(),
          down = op.getDownProj();
    auto xType = cast<RankedTensorType>(x.getType());
    auto gType = cast<RankedTensorType>(gate.getType());
    int64_t numExperts = gType.getDimSize(0), f = gType.getDimSize(1),
            d = xType.getDimSize(2);
    if (!isF32Only(op) || ShapedType::isDynamic(numExperts) ||
        ShapedType::isDynamic(f) || ShapedType::isDynamic(d) ||
        cast<RankedTensorType>(w.getType()).isDynamicDim(2))
      return rewriter.notifyMatchFailure(op, "needs f32 and static expert "
                                             "shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    OpBuilder &b = rewriter;
    Type f32 = b.getF32Type();
    constexpr int64_t dyn = ShapedType::kDynamic;
    SortedPairs sp = SortedPairs::build(b, loc, op.getIndices(), numExperts);
    Value rows = sp.gather(b, loc, x), dyRows = sp.gather(b, loc, dy);
    auto zeroRows = [&](int64_t cols) {
      return filledTensor(b, loc, rows, {dyn, cols}, f32, 0.0);
    };
    auto pointwise = [&](ValueRange in, int64_t cols, auto body) {
      return buildPointwise(b, loc, in, {},
                            emptyTensor(b, loc, rows, {dyn, cols}, f32), body);
    };

    // The forward per expert, recomputed.
    Value hg = groupedProduct(b, loc, sp, rows, gate, zeroRows(f));
    Value hu = groupedProduct(b, loc, sp, rows, up, zeroRows(f));
    Value act = pointwise({hg, hu}, f,
                          [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                            return arith::MulFOp::create(
                                nb, l, buildSilu(nb, l, a[0]), a[1]);
                          });
    Value out = groupedProduct(b, loc, sp, act, down, zeroRows(d));

    // Each sorted row's routing weight, and the gradient of it: the
    // expert's output against the result's gradient.
    Value weightRows = buildPointwise(
        b, loc, {sp.order}, {}, emptyTensor(b, loc, sp.order, {dyn}, f32),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          SmallVector<Value> bsk = sp.indicesOf(nb, l, toIndex(nb, l, a[0]));
          return tensor::ExtractOp::create(nb, l, w, bsk);
        });
    Value dWeightRows = buildGeneric(
        b, loc, {dyRows, out}, filledTensor(b, loc, sp.order, {dyn}, f32, 0.0),
        {dimsMap(ctx, 2, {0, 1}), dimsMap(ctx, 2, {0, 1}),
         dimsMap(ctx, 2, {0})},
        {IT::parallel, IT::reduction},
        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(nb, l, a[2],
                                       arith::MulFOp::create(nb, l, a[0], a[1]));
        });
    auto wType = cast<RankedTensorType>(w.getType());
    Value dWeights = buildPointwise(
        b, loc, {}, {}, emptyTensor(b, loc, w, wType.getShape(), f32),
        [&](OpBuilder &nb, Location l, ValueRange) -> Value {
          Value row = sp.rowOf(nb, l, linalg::IndexOp::create(nb, l, 0),
                               linalg::IndexOp::create(nb, l, 1),
                               linalg::IndexOp::create(nb, l, 2));
          return tensor::ExtractOp::create(nb, l, dWeightRows, row);
        });

    // The activations' gradients, per expert with the transposed weights.
    Value dOut = buildPointwise(
        b, loc, {weightRows, dyRows},
        {dimsMap(ctx, 2, {0}), dimsMap(ctx, 2, {0, 1})},
        emptyTensor(b, loc, rows, {dyn, d}, f32),
        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::MulFOp::create(nb, l, a[0], a[1]);
        });
    Value dAct =
        groupedProduct(b, loc, sp, dOut, transposeLast(b, loc, down),
                       zeroRows(f));
    Value dGateRows = pointwise(
        {dAct, hg, hu}, f, [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::MulFOp::create(
              nb, l, arith::MulFOp::create(nb, l, a[0], a[2]),
              buildSiluDerivative(nb, l, a[1]));
        });
    Value dUpRows = pointwise(
        {dAct, hg}, f, [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::MulFOp::create(nb, l, a[0], buildSilu(nb, l, a[1]));
        });
    Value dRows = groupedProduct(b, loc, sp, dGateRows,
                                 transposeLast(b, loc, gate), zeroRows(d));
    dRows = groupedProduct(b, loc, sp, dUpRows, transposeLast(b, loc, up),
                           dRows);
    // dx[b, s, :] = the sum of its slots' rows, in slot order.
    Value dx = combineSlots(b, loc, sp, dRows, w, /*weighted=*/false, x);

    // The weights' gradients: per expert, over its rows only.
    Value dGate = groupedWeightGrad(b, loc, sp, dGateRows, rows, numExperts);
    Value dUp = groupedWeightGrad(b, loc, sp, dUpRows, rows, numExperts);
    Value dDown = groupedWeightGrad(b, loc, sp, dOut, act, numExperts);
    rewriter.replaceOp(op, {dx, dWeights, dGate, dUp, dDown});
    return success();
  }
};

/// load[e] = the number of (b, s, k) with indices[b, s, k] == e: one
/// generic, parallel over experts and reducing over the pairs (E * P
/// compares, small next to the experts' GEMMs over the same pairs).
struct ExpertLoadLowering : OpRewritePattern<ExpertLoadOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpertLoadOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getLoad().getType());
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "needs a static expert count");
    Value zero =
        arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(0));
    Value init = linalg::FillOp::create(
                     rewriter, loc, zero,
                     tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                             type.getElementType())
                         .getResult())
                     .getResult(0);
    Value load = buildGeneric(
        rewriter, loc, op.getIndices(), init,
        {dimsMap(ctx, 4, {1, 2, 3}), dimsMap(ctx, 4, {0})},
        {IT::parallel, IT::reduction, IT::reduction, IT::reduction},
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value e = arith::IndexCastOp::create(
              b, l, b.getI32Type(), linalg::IndexOp::create(b, l, 0));
          Value hit =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[0], e);
          return arith::AddIOp::create(
              b, l, a[1], arith::ExtUIOp::create(b, l, b.getI32Type(), hit));
        });
    rewriter.replaceOp(op, load);
    return success();
  }
};

/// Training's capacity limit. The (token, slot) pairs are counting-sorted
/// by expert (strata_kernel.expert_sort, stable, so each expert's pairs
/// stay in pair order): a pair's rank among its expert's pairs is
/// position[p] - offsets[e], and it is kept iff that rank is below
/// C = ceil(capacity_factor * P / E). kept = keep ? weights : 0;
/// dropped = the number of pairs not kept.
struct ExpertCapacityLowering : OpRewritePattern<ExpertCapacityOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpertCapacityOp op,
                                PatternRewriter &rewriter) const override {
    Value w = op.getWeights(), idx = op.getIndices();
    auto type = cast<RankedTensorType>(w.getType());
    int64_t k = type.getDimSize(2);
    if (!isF32Only(op) || ShapedType::isDynamic(k))
      return rewriter.notifyMatchFailure(op, "needs f32 and a static top_k");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    OpBuilder &b = rewriter;
    Type f32 = b.getF32Type(), i32 = b.getI32Type(), i64 = b.getI64Type();
    int64_t numExperts = op.getNumExperts();
    SortedPairs sp = SortedPairs::build(b, loc, idx, numExperts);
    Value seq = sp.seq, pairs = sp.pairs, offsets = sp.offsets,
          position = sp.position;
    // C = ceil(capacity_factor * P / E), in f64 then i64.
    Value pairsF = arith::UIToFPOp::create(
        b, loc, b.getF64Type(), arith::IndexCastOp::create(b, loc, i64, pairs));
    auto f64c = [&](double v) {
      return arith::ConstantOp::create(b, loc, b.getF64Type(),
                                       b.getF64FloatAttr(v));
    };
    Value capacity = arith::FPToSIOp::create(
        b, loc, i64,
        math::CeilOp::create(
            b, loc,
            arith::DivFOp::create(
                b, loc,
                arith::MulFOp::create(
                    b, loc, f64c(op.getCapacityFactor().convertToDouble()),
                    pairsF),
                f64c(static_cast<double>(numExperts)))));
    // dropped[b, s, k] = 1 where the pair is over its expert's capacity.
    Value droppedMask = buildPointwise(
        b, loc, {idx}, {}, emptyTensor(b, loc, w, type.getShape(), i32),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value bi = linalg::IndexOp::create(nb, l, 0);
          Value si = linalg::IndexOp::create(nb, l, 1);
          Value ki = linalg::IndexOp::create(nb, l, 2);
          Value pair = arith::AddIOp::create(
              nb, l,
              arith::MulIOp::create(
                  nb, l,
                  arith::AddIOp::create(
                      nb, l, arith::MulIOp::create(nb, l, bi, seq), si),
                  arith::ConstantIndexOp::create(nb, l, k)),
              ki);
          Value pos = tensor::ExtractOp::create(nb, l, position, pair);
          Value first = tensor::ExtractOp::create(
              nb, l, offsets, clampedIndex(nb, l, a[0], numExperts));
          Value rank = arith::ExtSIOp::create(
              nb, l, nb.getI64Type(), arith::SubIOp::create(nb, l, pos, first));
          Value over = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge,
                                             rank, capacity);
          return arith::ExtUIOp::create(nb, l, nb.getI32Type(), over);
        });
    Value kept = buildPointwise(
        b, loc, {w, droppedMask}, {},
        emptyTensor(b, loc, w, type.getShape(), f32),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value over = arith::TruncIOp::create(nb, l, nb.getI1Type(), a[1]);
          return arith::SelectOp::create(nb, l, over, f32Constant(nb, l, 0.0),
                                         a[0]);
        });
    Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    Value countInit =
        linalg::FillOp::create(
            b, loc, zero,
            tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, i32)
                .getResult())
            .getResult(0);
    Value dropped = buildGeneric(
        b, loc, {droppedMask}, countInit,
        {b.getMultiDimIdentityMap(3), AffineMap::get(3, 0, {}, ctx)},
        {IT::reduction, IT::reduction, IT::reduction},
        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::AddIOp::create(nb, l, a[0], a[1]);
        });
    rewriter.replaceOp(op, {kept, dropped});
    return success();
  }
};

/// coef * E * sum_e f_e * P_e with f_e the share of the N*K selections that
/// went to e and P_e the mean (renormalised) score of e over the N tokens.
struct RouterAuxLossLowering : OpRewritePattern<RouterAuxLossOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouterAuxLossOp op,
                                PatternRewriter &rewriter) const override {
    Value scores = op.getScores(), idx = op.getIndices();
    auto type = cast<RankedTensorType>(scores.getType());
    if (!isF32Only(op) || type.isDynamicDim(2))
      return rewriter.notifyMatchFailure(op, "needs f32 and a static E");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    int64_t e = type.getDimSize(2);
    int64_t k = cast<RankedTensorType>(idx.getType()).getDimSize(2);
    AffineMap id3 = rewriter.getMultiDimIdentityMap(3);
    AffineMap row3 = dimsMap(ctx, 3, {0, 1});
    SmallVector<int64_t> rowShape{type.getDimSize(0), type.getDimSize(1)};
    Value rowSum =
        buildGeneric(rewriter, loc, {scores},
                     filledTensor(rewriter, loc, scores, rowShape, f32, 0.0),
                     {id3, row3}, {IT::parallel, IT::parallel, IT::reduction},
                     [](OpBuilder &b, Location l, ValueRange a) -> Value {
                       return arith::AddFOp::create(b, l, a[0], a[1]);
                     });
    auto perExpert = [&]() {
      Value empty =
          tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{e}, f32);
      return linalg::FillOp::create(rewriter, loc,
                                    f32Constant(rewriter, loc, 0), empty)
          .getResult(0);
    };
    // dims: e, b, s
    Value probSum =
        buildGeneric(rewriter, loc, {scores, rowSum}, perExpert(),
                     {dimsMap(ctx, 3, {1, 2, 0}), dimsMap(ctx, 3, {1, 2}),
                      dimsMap(ctx, 3, {0})},
                     {IT::parallel, IT::reduction, IT::reduction},
                     [](OpBuilder &b, Location l, ValueRange a) -> Value {
                       return arith::AddFOp::create(
                           b, l, a[2], arith::DivFOp::create(b, l, a[0], a[1]));
                     });
    // dims: e, b, s, j
    Value counts = buildGeneric(
        rewriter, loc, {idx}, perExpert(),
        {dimsMap(ctx, 4, {1, 2, 3}), dimsMap(ctx, 4, {0})},
        {IT::parallel, IT::reduction, IT::reduction, IT::reduction},
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value ex = arith::IndexCastOp::create(
              b, l, b.getI32Type(), linalg::IndexOp::create(b, l, 0));
          Value hit =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[0], ex);
          return arith::AddFOp::create(
              b, l, a[1],
              arith::SelectOp::create(b, l, hit, f32Constant(b, l, 1),
                                      f32Constant(b, l, 0)));
        });
    // tokens N = B * S, as f32.
    auto dimF = [&](int64_t d) -> Value {
      Value v = tensor::DimOp::create(rewriter, loc, scores, d);
      return arith::UIToFPOp::create(
          rewriter, loc, f32,
          arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(), v));
    };
    Value n = arith::MulFOp::create(rewriter, loc, dimF(0), dimF(1));
    double coef = op.getCoef().convertToDouble();
    Value scalarInit =
        linalg::FillOp::create(
            rewriter, loc, f32Constant(rewriter, loc, 0),
            tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{}, f32)
                .getResult())
            .getResult(0);
    Value dot = buildGeneric(
        rewriter, loc, {counts, probSum}, scalarInit,
        {dimsMap(ctx, 1, {0}), dimsMap(ctx, 1, {0}),
         AffineMap::get(1, 0, {}, ctx)},
        {IT::reduction}, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(b, l, a[2],
                                       arith::MulFOp::create(b, l, a[0], a[1]));
        });
    // coef * E * sum(count/(N*K) * probSum/N)
    Value loss = buildPointwise(
        rewriter, loc, {dot}, {}, scalarInit,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value denom = arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, n, n), f32Constant(b, l, k));
          return arith::MulFOp::create(b, l,
                                       arith::DivFOp::create(b, l, a[0], denom),
                                       f32Constant(b, l, coef * e));
        });
    rewriter.replaceOp(op, loss);
    return success();
  }
};

} // namespace

void mlir::strata::populateMoEToLinalgPatterns(RewritePatternSet &patterns,
                                               bool groupByExpert,
                                               bool groupBackward) {
  patterns.add<RouterLowering, RouterAuxLossLowering, ExpertCapacityLowering,
               ExpertLoadLowering>(patterns.getContext());
  if (groupByExpert)
    patterns.add<GroupedMoEExpertsLowering,
                 GroupedQuantizedMoEExpertsLowering,
                 QuantizedMoEExpertInputsLowering>(patterns.getContext());
  if (groupBackward)
    patterns.add<GroupedMoEExpertsBackwardLowering>(patterns.getContext());
  else
    patterns.add<MoEExpertsLowering>(patterns.getContext());
}
