//===- ParallelLoops.cpp - parallel loops on the runtime's threads -*- C++
//-*-===//
//
// The CPU target runs each top-level scf.parallel of a function on the
// runtime's thread pool, in two steps around the LLVM conversion:
//
// strata-outline-parallel-loops (on loops) moves the loop into a private
// function `@<fn>_par<N>(%begin, %end, captures...)` that runs iterations
// [begin, end) of its linearised space, and calls it once over the whole
// range. The function carries `strata.parallel_cost`, an estimate of the
// work in one iteration, so the runtime can keep small loops on the
// calling thread. When the body is straight-line code (an element-wise
// nest), the innermost dimension stays a loop inside each iteration, so it
// still vectorises and the linearisation costs one division per row.
//
// strata-cpu-parallel-hooks (on the LLVM dialect) rewrites each such call:
// the captures are stored in a stack struct, and
//
//   void (*strata_cpu_parallel_for)(void *ctx,
//        void (*body)(void *captures, int64_t begin, int64_t end),
//        void *captures, int64_t iterations, int64_t costPerIteration);
//
// (an exported global, with `void *strata_cpu_context`) is called with a
// thunk that unpacks them. The runtime fills both globals in after loading
// the library; while they are null the thunk runs the whole range on the
// calling thread, so the library works without a pool.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAOUTLINEPARALLELLOOPS
#define GEN_PASS_DEF_STRATACPUPARALLELHOOKS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

constexpr StringLiteral kCostAttr = "strata.parallel_cost";
constexpr StringLiteral kParallelFor = STRATA_HOOK_CPU_PARALLEL_FOR;
constexpr StringLiteral kDispatch = "__strata_parallel_for";

/// Iterations assumed for a loop whose trip count is not a constant.
constexpr int64_t kUnknownTripCount = 64;

int64_t staticTripCount(Value lb, Value ub, Value step) {
  APInt l, u, s;
  if (!matchPattern(lb, m_ConstantInt(&l)) ||
      !matchPattern(ub, m_ConstantInt(&u)) ||
      !matchPattern(step, m_ConstantInt(&s)) || s.getSExtValue() <= 0)
    return kUnknownTripCount;
  int64_t span = u.getSExtValue() - l.getSExtValue();
  return span <= 0 ? 0 : llvm::divideCeil(span, s.getSExtValue());
}

/// Operations executed by one run of `block`, nested loops multiplied out.
int64_t blockCost(Block &block) {
  int64_t cost = 0;
  for (Operation &op : block.without_terminator()) {
    int64_t trips = 1;
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      trips = staticTripCount(loop.getLowerBound(), loop.getUpperBound(),
                              loop.getStep());
    } else if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
      for (auto [lb, ub, step] : llvm::zip(
               loop.getLowerBound(), loop.getUpperBound(), loop.getStep()))
        trips *= staticTripCount(lb, ub, step);
    }
    int64_t inner = 0;
    for (Region &region : op.getRegions())
      for (Block &b : region)
        inner += blockCost(b);
    cost += 1 + trips * inner;
  }
  return cost;
}

/// Values a clone of the loop can rebuild on its own instead of receiving.
bool isRematerializable(Value v) {
  Operation *def = v.getDefiningOp();
  return def && def->getNumOperands() == 0 && def->getNumRegions() == 0 &&
         (matchPattern(v, m_Constant()) || isa<memref::GetGlobalOp>(def));
}

/// Outlines `loop` of `parent` into a function placed after `*last`, which
/// is then updated to it.
LogicalResult outline(scf::ParallelOp loop, func::FuncOp parent, unsigned index,
                      Operation **last) {
  if (loop.getNumResults() != 0)
    return success(); // reductions stay sequential
  Block *body = loop.getBody();
  unsigned rank = loop.getNumLoops();
  bool hasLoops = llvm::any_of(body->without_terminator(), [](Operation &op) {
    return op.getNumRegions() != 0;
  });
  // Straight-line bodies keep their innermost dimension as a loop.
  unsigned dispatched = (rank > 1 && !hasLoops) ? rank - 1 : rank;
  int64_t cost = blockCost(*body);
  for (unsigned d = dispatched; d < rank; ++d)
    cost *= staticTripCount(loop.getLowerBound()[d], loop.getUpperBound()[d],
                            loop.getStep()[d]);

  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(loop.getRegion(), used);
  used.insert(loop->getOperands().begin(), loop->getOperands().end());
  SmallVector<Value> captures, local;
  for (Value v : used)
    (isRematerializable(v) ? local : captures).push_back(v);

  MLIRContext *ctx = loop.getContext();
  Location loc = loop.getLoc();
  OpBuilder b(ctx);
  b.setInsertionPointAfter(*last);
  SmallVector<Type> argTypes(2, b.getIndexType());
  llvm::append_range(argTypes, ValueRange(captures).getTypes());
  auto fn = func::FuncOp::create(
      b, loc, (parent.getName() + "_par" + Twine(index)).str(),
      FunctionType::get(ctx, argTypes, {}));
  fn.setPrivate();
  fn->setAttr(kCostAttr, b.getI64IntegerAttr(std::max<int64_t>(cost, 1)));
  *last = fn;

  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping map;
  for (auto [v, arg] : llvm::zip(captures, entry->getArguments().drop_front(2)))
    map.map(v, arg);
  for (Value v : local)
    b.clone(*v.getDefiningOp(), map);
  auto inner = cast<scf::ParallelOp>(b.cloneWithoutRegions(*loop, map));
  SmallVector<Value> trips = parallelTripCounts(b, inner);
  trips.resize(dispatched);
  auto chunk =
      scf::ForOp::create(b, loc, entry->getArgument(0), entry->getArgument(1),
                         indexConstant(b, loc, 1));
  func::ReturnOp::create(b, loc);
  b.setInsertionPointToStart(chunk.getBody());
  mapDelinearizedIvs(b, loc, chunk.getInductionVar(), trips, inner,
                     loop.getInductionVars(), map);
  if (dispatched < rank) {
    auto rest = scf::ParallelOp::create(
        b, loc, inner.getLowerBound().drop_front(dispatched),
        inner.getUpperBound().drop_front(dispatched),
        inner.getStep().drop_front(dispatched));
    for (unsigned d = dispatched; d < rank; ++d)
      map.map(loop.getInductionVars()[d],
              rest.getInductionVars()[d - dispatched]);
    b.setInsertionPoint(rest.getBody()->getTerminator());
  }
  for (Operation &op : body->without_terminator())
    b.clone(op, map);
  inner.erase();

  // The call over the whole space replaces the loop.
  b.setInsertionPoint(loop);
  SmallVector<Value> outerTrips = parallelTripCounts(b, loop);
  Value total = indexConstant(b, loc, 1);
  for (Value trip : ArrayRef(outerTrips).take_front(dispatched))
    total = arith::MulIOp::create(b, loc, total, trip);
  SmallVector<Value> args{indexConstant(b, loc, 0), total};
  llvm::append_range(args, captures);
  func::CallOp::create(b, loc, fn, args);
  loop.erase();
  return success();
}

struct OutlineParallelLoopsPass
    : public mlir::strata::impl::StrataOutlineParallelLoopsBase<
          OutlineParallelLoopsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto fn : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (fn.isExternal() || fn->hasAttr(kCostAttr))
        continue;
      SmallVector<scf::ParallelOp> loops;
      fn.walk<WalkOrder::PreOrder>([&](scf::ParallelOp loop) {
        loops.push_back(loop);
        return WalkResult::skip();
      });
      Operation *last = fn;
      for (auto [i, loop] : llvm::enumerate(loops))
        if (failed(outline(loop, fn, i, &last)))
          return signalPassFailure();
    }
  }
};

//===----------------------------------------------------------------------===//
// LLVM dialect: calls of outlined bodies -> the runtime's parallel-for hook
//===----------------------------------------------------------------------===//

/// `void @__strata_parallel_for(ptr thunk, ptr captures, i64 n, i64 cost)`:
/// the hook when the runtime has set it, the thunk over [0, n) otherwise.
void createDispatcher(OpBuilder &b, Location loc) {
  MLIRContext *ctx = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  auto voidType = LLVM::LLVMVoidType::get(ctx);
  auto fn = LLVM::LLVMFuncOp::create(
      b, loc, kDispatch,
      LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, i64, i64}),
      LLVM::Linkage::Internal);
  OpBuilder::InsertionGuard guard(b);
  Block *entry = fn.addEntryBlock(b);
  Block *pooled = fn.addBlock(), *inline_ = fn.addBlock(),
        *done = fn.addBlock();
  b.setInsertionPointToStart(entry);
  Value hook = loadHookGlobal(b, loc, kParallelFor);
  Value null = LLVM::ZeroOp::create(b, loc, ptr);
  Value unset =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, hook, null);
  LLVM::CondBrOp::create(b, loc, unset, inline_, pooled);

  b.setInsertionPointToStart(pooled);
  auto hookType =
      LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, ptr, i64, i64});
  LLVM::CallOp::create(b, loc, hookType,
                       ValueRange{hook, loadHookGlobal(b, loc, kCpuContextHook),
                                  entry->getArgument(0), entry->getArgument(1),
                                  entry->getArgument(2),
                                  entry->getArgument(3)});
  LLVM::BrOp::create(b, loc, done);

  b.setInsertionPointToStart(inline_);
  auto thunkType = LLVM::LLVMFunctionType::get(voidType, {ptr, i64, i64});
  Value zero = LLVM::ConstantOp::create(b, loc, i64, 0);
  LLVM::CallOp::create(b, loc, thunkType,
                       ValueRange{entry->getArgument(0), entry->getArgument(1),
                                  zero, entry->getArgument(2)});
  LLVM::BrOp::create(b, loc, done);

  b.setInsertionPointToStart(done);
  LLVM::ReturnOp::create(b, loc, ValueRange());
}

/// `void @<body>_thunk(ptr captures, i64 begin, i64 end)`: unpacks the
/// captures and calls the outlined body.
LLVM::LLVMFuncOp createThunk(OpBuilder &b, LLVM::LLVMFuncOp body,
                             LLVM::LLVMStructType captures) {
  MLIRContext *ctx = b.getContext();
  Location loc = body.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  auto thunk = LLVM::LLVMFuncOp::create(
      b, loc, (body.getName() + "_thunk").str(),
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                  {ptr, i64, i64}),
      LLVM::Linkage::Internal);
  OpBuilder::InsertionGuard guard(b);
  Block *entry = thunk.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  SmallVector<Value> args{entry->getArgument(1), entry->getArgument(2)};
  for (auto [i, type] : llvm::enumerate(captures.getBody())) {
    Value field =
        LLVM::GEPOp::create(b, loc, ptr, captures, entry->getArgument(0),
                            ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    args.push_back(LLVM::LoadOp::create(b, loc, type, field));
  }
  LLVM::CallOp::create(b, loc, body, args);
  LLVM::ReturnOp::create(b, loc, ValueRange());
  return thunk;
}

LogicalResult lowerCall(LLVM::CallOp call, LLVM::LLVMFuncOp body,
                        ModuleOp module) {
  MLIRContext *ctx = call.getContext();
  Location loc = call.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  ValueRange operands = call.getArgOperands();
  APInt begin;
  if (operands.size() < 2 ||
      !matchPattern(operands[0], m_ConstantInt(&begin)) || !begin.isZero() ||
      operands[1].getType() != i64)
    return call.emitOpError("expected a call of an outlined parallel body "
                            "over [0, n) (run strata-outline-parallel-loops)");
  SmallVector<Type> fields(operands.drop_front(2).getTypes());
  auto captures = LLVM::LLVMStructType::getLiteral(ctx, fields);

  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointAfter(body);
  LLVM::LLVMFuncOp thunk = createThunk(b, body, captures);

  // One stack slot per call site, allocated once in the entry block.
  auto caller = call->getParentOfType<LLVM::LLVMFuncOp>();
  b.setInsertionPointToStart(&caller.getBody().front());
  Value one = LLVM::ConstantOp::create(b, loc, i64, 1);
  Value slot = LLVM::AllocaOp::create(b, loc, ptr, captures, one);
  b.setInsertionPoint(call);
  for (auto [i, v] : llvm::enumerate(operands.drop_front(2))) {
    Value field =
        LLVM::GEPOp::create(b, loc, ptr, captures, slot,
                            ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    LLVM::StoreOp::create(b, loc, v, field);
  }
  Value thunkAddress = LLVM::AddressOfOp::create(b, loc, thunk);
  auto cost = body->getAttrOfType<IntegerAttr>(kCostAttr);
  Value costValue = LLVM::ConstantOp::create(b, loc, i64, cost.getInt());
  auto dispatch = module.lookupSymbol<LLVM::LLVMFuncOp>(kDispatch);
  LLVM::CallOp::create(b, loc, dispatch,
                       ValueRange{thunkAddress, slot, operands[1], costValue});
  call.erase();
  return success();
}

struct CpuParallelHooksPass
    : public mlir::strata::impl::StrataCpuParallelHooksBase<
          CpuParallelHooksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<LLVM::CallOp, LLVM::LLVMFuncOp>> calls;
    module.walk([&](LLVM::CallOp call) {
      auto callee = call.getCallee();
      if (!callee)
        return;
      auto body = module.lookupSymbol<LLVM::LLVMFuncOp>(*callee);
      if (body && body->hasAttr(kCostAttr))
        calls.push_back({call, body});
    });
    if (calls.empty())
      return;
    OpBuilder b(module.getBodyRegion());
    Location loc = module.getLoc();
    createHookGlobal(b, loc, kCpuContextHook);
    createHookGlobal(b, loc, kParallelFor);
    createDispatcher(b, loc);
    for (auto [call, body] : calls)
      if (failed(lowerCall(call, body, module)))
        return signalPassFailure();
    // Each body now has one caller, its thunk, which inlines it.
    for (auto [call, body] : calls) {
      body->removeAttr(kCostAttr);
      body.setLinkage(LLVM::Linkage::Internal);
      body.setVisibility(SymbolTable::Visibility::Public);
    }
  }
};

} // namespace
