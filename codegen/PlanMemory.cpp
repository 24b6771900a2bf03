//===- PlanMemory.cpp - one arena per call from a static plan --*- C++ -*-===//
//
// strata-plan-memory (on buffers) gives each entry point a memory plan: the
// temporary buffers of its body (allocated and freed in its top-level
// block) are assigned to slots of one arena such that buffers whose
// lifetimes overlap never share a slot. The slots are fixed at compile
// time; their sizes, which depend on the batch and sequence lengths, are
// computed when the call starts (each slot as large as its largest
// buffer), and so are their 64-byte aligned offsets. The function then
// asks for the arena once,
//
//   memref<?xi8> @strata_arena_acquire(index bytes)
//
// and every planned allocation becomes a memref.view of it; the frees go,
// and before each return the function gives its arena back:
//
//   @strata_arena_release(memref<?xi8>)
//
// Layer bodies are planned like entry points, so an entry's frame and the
// frames of the bodies it calls nest like a call stack.
// The plan is recorded on the function as `strata.memory_plan` (buffers,
// slots, and each slot's size in bytes, -1 where it depends on the input
// shape) for the executable.
//
// strata-cpu-arena-hook (on the LLVM dialect) defines both: a frame comes
// from the exported hooks `void *(*strata_cpu_arena)(void *ctx, int64_t
// bytes)` and `void (*strata_cpu_arena_release)(void *ctx, void *frame)`
// (the context in strata_cpu_context), which the runtime sets; without a
// runtime each frame is a malloc of its own.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAPLANMEMORY
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {


/// A planned buffer: its allocation, its free, and its place in the block.
struct Buffer {
  memref::AllocOp alloc;
  memref::DeallocOp dealloc;
  unsigned start, end;
  unsigned slot = 0;
};

Value materialize(Value v, Block &entry, OpBuilder &b, IRMapping &map);

/// Dimension `dim` of `buffer`, rebuilt at `b` from the sizes the op that
/// made it was given (an allocation's, an expand_shape's output shape, the
/// product of a collapse_shape's source dimensions); null otherwise.
Value materializeDim(Value buffer, int64_t dim, Block &entry, OpBuilder &b,
                     IRMapping &map) {
  auto type = cast<MemRefType>(buffer.getType());
  if (dim < 0 || dim >= type.getRank())
    return Value();
  Location loc = buffer.getLoc();
  if (!type.isDynamicDim(dim))
    return indexConstant(b, loc, type.getDimSize(dim));
  if (auto alloc = buffer.getDefiningOp<memref::AllocOp>())
    return materialize(alloc.getDynamicSizes()[type.getDynamicDimIndex(dim)],
                       entry, b, map);
  if (auto expand = buffer.getDefiningOp<memref::ExpandShapeOp>()) {
    OpFoldResult size = expand.getMixedOutputShape()[dim];
    if (auto value = dyn_cast<Value>(size))
      return materialize(value, entry, b, map);
    return getValueOrCreateConstantIndexOp(b, loc, size);
  }
  if (auto collapse = buffer.getDefiningOp<memref::CollapseShapeOp>()) {
    Value product;
    SmallVector<ReassociationIndices, 4> groups =
        collapse.getReassociationIndices();
    for (int64_t source : groups[dim]) {
      Value size = materializeDim(collapse.getSrc(), source, entry, b, map);
      if (!size)
        return Value();
      product = product ? arith::MulIOp::create(b, loc, product, size) : size;
    }
    return product;
  }
  return Value();
}

/// Rebuilds `v` at the start of `entry` (before `at`) from block arguments
/// and pure, region-free ops; null when it depends on anything else. A
/// dimension of a buffer made in the block (an allocation, a reshape of
/// one) is rebuilt from the sizes it was made with.
Value materialize(Value v, Block &entry, OpBuilder &b, IRMapping &map) {
  if (Value known = map.lookupOrNull(v))
    return known;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (arg.getOwner() != &entry)
      return Value();
    map.map(v, v);
    return v;
  }
  if (auto dim = v.getDefiningOp<memref::DimOp>())
    if (std::optional<int64_t> index = dim.getConstantIndex())
      if (Value size = materializeDim(dim.getSource(), *index, entry, b, map)) {
        map.map(v, size);
        return size;
      }
  Operation *def = v.getDefiningOp();
  if (!def || def->getNumRegions() != 0 || !isPure(def) ||
      def->getNumResults() != 1)
    return Value();
  for (Value operand : def->getOperands())
    if (!materialize(operand, entry, b, map))
      return Value();
  Operation *clone = b.clone(*def, map);
  return clone->getResult(0);
}

/// Bytes of `alloc`'s buffer, built at `b` (operands from `map`).
Value bufferBytes(memref::AllocOp alloc, OpBuilder &b, IRMapping &map) {
  Location loc = alloc.getLoc();
  MemRefType type = alloc.getType();
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  Value total;
  unsigned dynamic = 0;
  for (int64_t dim : type.getShape()) {
    if (!ShapedType::isDynamic(dim)) {
      bytes *= dim;
      continue;
    }
    Value size = map.lookup(alloc.getDynamicSizes()[dynamic++]);
    total = total ? arith::MulIOp::create(b, loc, total, size) : size;
  }
  Value fixed = indexConstant(b, loc, bytes);
  return total ? arith::MulIOp::create(b, loc, total, fixed) : fixed;
}

Value alignUp(OpBuilder &b, Location loc, Value bytes) {
  Value mask = indexConstant(b, loc, kArenaAlignment - 1);
  Value sum = arith::AddIOp::create(b, loc, bytes, mask);
  return arith::AndIOp::create(b, loc, sum,
                               indexConstant(b, loc, ~(kArenaAlignment - 1)));
}

/// Position (in `entry`) of the last op that uses `alloc`'s buffer, through
/// any memref an op derives from it (views, reshapes, casts: every memref
/// result of a user is taken to alias it), the free excluded. Uses nested
/// in loops or other regions count at their ancestor in `entry`.
unsigned lastUse(memref::AllocOp alloc, Block &entry,
                 const llvm::DenseMap<Operation *, unsigned> &position) {
  unsigned last = position.lookup(alloc);
  SmallVector<Value> work{alloc.getResult()};
  llvm::SmallPtrSet<Value, 8> seen{alloc.getResult()};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (isa<memref::DeallocOp>(user))
        continue;
      if (Operation *top = entry.findAncestorOpInBlock(*user))
        last = std::max(last, position.lookup(top));
      for (Value result : user->getResults())
        if (isa<BaseMemRefType>(result.getType()) && seen.insert(result).second)
          work.push_back(result);
    }
  }
  return last;
}

/// Buffers of `fn`'s entry block that can be planned.
SmallVector<Buffer> collect(func::FuncOp fn, OpBuilder &b, IRMapping &map) {
  Block &entry = fn.getBody().front();
  llvm::DenseMap<Operation *, unsigned> position;
  unsigned i = 0;
  for (Operation &op : entry)
    position[&op] = i++;
  SmallVector<Buffer> buffers;
  for (auto alloc : entry.getOps<memref::AllocOp>()) {
    if (!alloc.getType().getLayout().isIdentity() ||
        !alloc.getType().getElementType().isIntOrFloat() ||
        alloc.getType().getElementTypeBitWidth() % 8 ||
        alloc.getType().getMemorySpace())
      continue;
    memref::DeallocOp dealloc;
    unsigned deallocs = 0;
    for (Operation *user : alloc->getUsers())
      if (auto d = dyn_cast<memref::DeallocOp>(user)) {
        ++deallocs;
        dealloc = d;
      }
    // Freed once, in this block; the rest (results) stay with malloc.
    if (deallocs != 1 || dealloc->getBlock() != &entry)
      continue;
    bool sizesKnown = llvm::all_of(alloc.getDynamicSizes(), [&](Value v) {
      return static_cast<bool>(materialize(v, entry, b, map));
    });
    if (!sizesKnown)
      continue;
    // The free sits at the end of the block; the lifetime ends at the last
    // use.
    buffers.push_back(
        {alloc, dealloc, position[alloc], lastUse(alloc, entry, position)});
  }
  return buffers;
}

/// First-fit over lifetimes: a slot is reused once its last buffer has
/// been freed. Returns the number of slots.
unsigned assignSlots(MutableArrayRef<Buffer> buffers) {
  SmallVector<unsigned> freeAfter;
  for (Buffer &buffer : buffers) {
    auto slot = llvm::find_if(freeAfter,
                              [&](unsigned end) { return end < buffer.start; });
    if (slot == freeAfter.end()) {
      buffer.slot = freeAfter.size();
      freeAfter.push_back(buffer.end);
    } else {
      buffer.slot = slot - freeAfter.begin();
      *slot = buffer.end;
    }
  }
  return freeAfter.size();
}

LogicalResult plan(func::FuncOp fn, func::FuncOp acquire,
                   func::FuncOp release) {
  Block &entry = fn.getBody().front();
  OpBuilder b(&entry, entry.begin());
  IRMapping map;
  SmallVector<Buffer> buffers = collect(fn, b, map);
  if (buffers.empty())
    return success();
  unsigned slots = assignSlots(buffers);
  Location loc = fn.getLoc();

  // Slot sizes (the largest member), aligned offsets and the total.
  SmallVector<Value> slotBytes(slots);
  SmallVector<int64_t> staticBytes(slots, 0);
  for (Buffer &buffer : buffers) {
    Value bytes = bufferBytes(buffer.alloc, b, map);
    Value &size = slotBytes[buffer.slot];
    size = size ? arith::MaxUIOp::create(b, loc, size, bytes) : bytes;
    int64_t &known = staticBytes[buffer.slot];
    if (buffer.alloc.getType().hasStaticShape() && known >= 0)
      known = std::max<int64_t>(
          known, buffer.alloc.getType().getNumElements() *
                     (buffer.alloc.getType().getElementTypeBitWidth() / 8));
    else
      known = -1;
  }
  SmallVector<Value> offsets;
  Value total = indexConstant(b, loc, 0);
  for (Value size : slotBytes) {
    offsets.push_back(total);
    total = arith::AddIOp::create(b, loc, total, alignUp(b, loc, size));
  }
  Value arena = func::CallOp::create(b, loc, acquire, total).getResult(0);

  for (Buffer &buffer : buffers) {
    OpBuilder at(buffer.alloc);
    auto view = memref::ViewOp::create(
        at, buffer.alloc.getLoc(), buffer.alloc.getType(), arena,
        offsets[buffer.slot], buffer.alloc.getDynamicSizes());
    buffer.alloc.replaceAllUsesWith(view.getResult());
    buffer.dealloc.erase();
    buffer.alloc.erase();
  }
  fn.walk([&](func::ReturnOp ret) {
    OpBuilder at(ret);
    func::CallOp::create(at, ret.getLoc(), release, arena);
  });
  SmallVector<int64_t> record{static_cast<int64_t>(buffers.size()),
                              static_cast<int64_t>(slots)};
  llvm::append_range(record, staticBytes);
  fn->setAttr("strata.memory_plan", b.getDenseI64ArrayAttr(record));
  return success();
}

struct PlanMemoryPass
    : public mlir::strata::impl::StrataPlanMemoryBase<PlanMemoryPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    OpBuilder b(module.getBodyRegion());
    auto arenaType =
        MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
    func::FuncOp acquire, release;
    // Entry points and the layer bodies they call alike, not the outlined
    // bodies of parallel loops: those run on several threads at once.
    for (auto fn : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (fn.isExternal() || fn->hasAttr("strata.parallel_cost"))
        continue;
      if (!acquire) {
        acquire = func::FuncOp::create(
            b, module.getLoc(), kArenaAcquire,
            FunctionType::get(ctx, {b.getIndexType()}, {arenaType}));
        acquire.setPrivate();
        release = func::FuncOp::create(
            b, module.getLoc(), kArenaRelease,
            FunctionType::get(ctx, {arenaType}, {}));
        release.setPrivate();
      }
      if (failed(plan(fn, acquire, release)))
        return signalPassFailure();
    }
    // Unused declarations would only become dangling hooks.
    for (func::FuncOp decl : {acquire, release})
      if (decl && SymbolTable::symbolKnownUseEmpty(decl, module))
        decl.erase();
  }
};
} // namespace
