// Where one session's stored observations keep their texts: append-only
// blocks, so recording an arrival costs no allocation of its own (a block
// holds many records) and ending the session frees a few blocks rather than
// one buffer per arrival. A text never moves once written.
//
// What the arena holds is its blocks' whole size, used or not: that is what
// the byte budgets count (SessionLimits), so a half-empty block is never
// memory the budget does not see. A new block doubles the last one (from
// kFirstBlock up to kMaxBlock) but is never larger than the caller's `cap`
// (what the budgets leave), unless the text needs more; the caller's
// admission check refuses that case beforehand (growth_for).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace vpncheck::reflector {

// Blocks of the largest size that ended arenas gave back, for the next ones:
// freed to malloc, a session's run of blocks is handed back to the kernel
// (heap trimming) and the next session faults every page in again, which
// cost more than the allocations the arena saves. At most kMaxBlocks are
// kept (4 MiB, outside every session's budget); the rest are freed.
class ObservationBlockPool {
 public:
  static constexpr std::size_t kMaxBlocks = 256;

  std::unique_ptr<char[]> take();  // nullptr: none kept
  void give(std::unique_ptr<char[]> block);
  std::size_t size() const { return blocks_.size(); }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
};

class ObservationArena {
 public:
  static constexpr std::size_t kFirstBlock = 1024;
  static constexpr std::size_t kMaxBlock = 16 * 1024;

  ObservationArena() = default;
  ~ObservationArena();
  ObservationArena(const ObservationArena&) = delete;
  ObservationArena& operator=(const ObservationArena&) = delete;
  ObservationArena(ObservationArena&&) noexcept = default;
  ObservationArena& operator=(ObservationArena&&) noexcept = delete;

  // Blocks of kMaxBlock come from `pool` and go back to it when the arena
  // ends; `pool` must outlive the arena. Without one, they are malloc's.
  void recycle_into(ObservationBlockPool* pool) { pool_ = pool; }

  // `size` bytes that stay where they are until the arena goes; a new block
  // when the current one has less room (its size: block_for(size, cap)).
  std::span<char> allocate(std::size_t size, std::size_t cap);
  // What allocate(size, cap) would add to held(): 0 while the current block has room.
  std::size_t growth_for(std::size_t size, std::size_t cap) const { return room() >= size ? 0 : block_for(size, cap); }

  // The blocks' whole size (what the budgets count), and how much of it is written.
  std::size_t held() const { return held_; }
  std::size_t used() const { return used_; }
  std::size_t blocks() const { return blocks_.size(); }

 private:
  std::size_t room() const { return blocks_.empty() ? 0 : last_size_ - last_used_; }
  std::size_t block_for(std::size_t size, std::size_t cap) const;

  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<std::size_t> block_sizes_;
  ObservationBlockPool* pool_ = nullptr;
  std::size_t last_size_ = 0;  // the current (last) block's size and what of it is written
  std::size_t last_used_ = 0;
  std::size_t held_ = 0;
  std::size_t used_ = 0;
};

}  // namespace vpncheck::reflector
