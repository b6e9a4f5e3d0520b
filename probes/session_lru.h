// A bounded table whose entries belong to sessions, evicting in O(1): the
// reflector's flow table, PPTP call table and NAT-lifetime pending table.
//
// Room is made so that one party cannot push out another's live exchange:
//   1. a session at its quota gives up its own oldest entry;
//   2. a full table first drops the oldest entry of all if it is stale (the
//      caller says what stale is, e.g. past its lifetime);
//   3. otherwise the oldest entry of the session holding the most entries
//      (the oldest entry of all, if its session is one of the largest).
// A session with few entries thus keeps them as long as any session holds
// more. Every step is constant time: entries sit on two intrusive lists (all,
// and their session's), and sessions in buckets by their entry count.
//
// Not thread-safe; the reflector uses it from its single I/O thread.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "probes/token.h"

namespace vpncheck::probes {

struct SessionTagHash {
  std::size_t operator()(const SessionTag& tag) const {
    std::uint64_t v = 0;
    for (auto b : tag) v = (v << 8) | b;
    return std::hash<std::uint64_t>{}(v);
  }
};

template <typename Key, typename Value, typename Hash = std::hash<Key>>
class SessionLru {
 public:
  struct Evicted {
    Key key;
    Value value;
    SessionTag tag;
  };

  // `capacity` entries in all, `quota` per session (both at least 1).
  SessionLru(std::size_t capacity, std::size_t quota)
      : capacity_(capacity), quota_(std::min(quota, capacity)), buckets_(quota_ + 1, nullptr) {
    assert(capacity_ > 0 && quota_ > 0);
  }
  SessionLru(const SessionLru&) = delete;
  SessionLru& operator=(const SessionLru&) = delete;
  // Moving keeps the map nodes the links point into; the source is left empty.
  SessionLru(SessionLru&& o) noexcept { *this = std::move(o); }
  SessionLru& operator=(SessionLru&& o) noexcept {
    capacity_ = o.capacity_;
    quota_ = o.quota_;
    entries_ = std::move(o.entries_);
    sessions_ = std::move(o.sessions_);
    buckets_ = std::move(o.buckets_);
    max_count_ = std::exchange(o.max_count_, 0);
    oldest_ = std::exchange(o.oldest_, nullptr);
    newest_ = std::exchange(o.newest_, nullptr);
    o.entries_.clear();
    o.sessions_.clear();
    o.buckets_.assign(o.quota_ + 1, nullptr);
    return *this;
  }

  std::size_t size() const { return entries_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::size_t quota() const { return quota_; }
  // Entries `tag` holds now.
  std::size_t count(const SessionTag& tag) const {
    auto it = sessions_.find(tag);
    return it == sessions_.end() ? 0 : it->second.count;
  }

  Value* find(const Key& key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second.value;
  }
  const Value* find(const Key& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second.value;
  }

  // Puts `value` under `key` for session `tag`, as the newest entry (an
  // existing key is replaced and moves to the newest place, under `tag`).
  // Returns the entry it evicted to make room, if any. `stale` says whether an
  // entry may go before any session's live one.
  std::optional<Evicted> put(const Key& key, const SessionTag& tag, Value value,
                             const std::function<bool(const Value&)>& stale = {}) {
    if (auto it = entries_.find(key); it != entries_.end()) {
      Entry& e = it->second;
      if (e.session->tag == tag) {
        e.value = std::move(value);
        unlink_all(e);
        link_all(e);
        Session& own = *e.session;  // to its newest place, its count unchanged
        if (own.newest != &e) {
          (e.s_older != nullptr ? e.s_older->s_newer : own.oldest) = e.s_newer;
          e.s_newer->s_older = e.s_older;
          e.s_older = own.newest;
          e.s_newer = nullptr;
          own.newest->s_newer = &e;
          own.newest = &e;
        }
        return std::nullopt;
      }
      remove(it);
    }
    std::optional<Evicted> evicted;
    Session& own = session(tag);
    if (own.count >= quota_) {
      evicted = take(own.oldest);
    } else if (entries_.size() >= capacity_) {
      // Among sessions of equal size the oldest entry goes: with one entry
      // per session this is plain LRU.
      Entry* victim = oldest_;
      if (!(stale && stale(victim->value)) && victim->session->count != max_count_)
        victim = buckets_[max_count_]->oldest;
      evicted = take(victim);
    }
    Session& s = session(tag);  // `own` may have gone with its last entry
    auto [it, inserted] = entries_.try_emplace(key);
    Entry& e = it->second;
    e.key = &it->first;
    e.value = std::move(value);
    link_all(e);
    link_session(e, s);
    return evicted;
  }

  bool erase(const Key& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    remove(it);
    return true;
  }

  // Every entry of `tag` (its session ended), each handed to `on_removed`
  // first. Costs its own entries only.
  template <typename Fn>
  void forget(const SessionTag& tag, Fn on_removed) {
    auto s = sessions_.find(tag);
    if (s == sessions_.end()) return;
    while (sessions_.contains(tag)) {
      Entry* e = s->second.oldest;
      on_removed(e->value);
      remove(entries_.find(*e->key));
    }
  }
  void forget(const SessionTag& tag) {
    forget(tag, [](const Value&) {});
  }

  void clear() {
    entries_.clear();
    sessions_.clear();
    std::fill(buckets_.begin(), buckets_.end(), nullptr);
    max_count_ = 0;
    oldest_ = newest_ = nullptr;
  }

  // Every entry `pred(key, value)` picks (a linear walk, for rare clean-ups).
  template <typename Pred>
  void erase_if(Pred pred) {
    for (Entry* e = oldest_; e != nullptr;) {
      Entry* next = e->newer;
      if (pred(*e->key, e->value)) remove(entries_.find(*e->key));
      e = next;
    }
  }

  // Oldest first, for tests and reports.
  template <typename Fn>
  void for_each(Fn fn) const {
    for (const Entry* e = oldest_; e != nullptr; e = e->newer) fn(*e->key, e->value, e->session->tag);
  }

 private:
  struct Session;
  struct Entry {
    const Key* key = nullptr;
    Value value{};
    Session* session = nullptr;
    Entry* older = nullptr;  // all entries
    Entry* newer = nullptr;
    Entry* s_older = nullptr;  // this session's entries
    Entry* s_newer = nullptr;
  };
  struct Session {
    SessionTag tag{};
    std::size_t count = 0;
    Entry* oldest = nullptr;
    Entry* newest = nullptr;
    Session* b_prev = nullptr;  // the bucket of sessions with this count
    Session* b_next = nullptr;
  };

  Session& session(const SessionTag& tag) {
    auto [it, inserted] = sessions_.try_emplace(tag);
    if (inserted) it->second.tag = tag;
    return it->second;
  }

  void link_all(Entry& e) {
    e.older = newest_;
    e.newer = nullptr;
    if (newest_ != nullptr) newest_->newer = &e;
    newest_ = &e;
    if (oldest_ == nullptr) oldest_ = &e;
  }
  void unlink_all(Entry& e) {
    (e.older != nullptr ? e.older->newer : oldest_) = e.newer;
    (e.newer != nullptr ? e.newer->older : newest_) = e.older;
    e.older = e.newer = nullptr;
  }

  void bucket_remove(Session& s) {
    (s.b_prev != nullptr ? s.b_prev->b_next : buckets_[s.count]) = s.b_next;
    if (s.b_next != nullptr) s.b_next->b_prev = s.b_prev;
    s.b_prev = s.b_next = nullptr;
  }
  void bucket_add(Session& s) {
    s.b_prev = nullptr;
    s.b_next = buckets_[s.count];
    if (s.b_next != nullptr) s.b_next->b_prev = &s;
    buckets_[s.count] = &s;
  }

  void link_session(Entry& e, Session& s) {
    e.session = &s;
    e.s_older = s.newest;
    e.s_newer = nullptr;
    if (s.newest != nullptr) s.newest->s_newer = &e;
    s.newest = &e;
    if (s.oldest == nullptr) s.oldest = &e;
    if (s.count > 0) bucket_remove(s);
    ++s.count;
    bucket_add(s);
    if (s.count > max_count_) max_count_ = s.count;
  }
  // Unlinks `e` from its session; the session goes when it holds nothing.
  void unlink_session(Entry& e) {
    Session& s = *e.session;
    (e.s_older != nullptr ? e.s_older->s_newer : s.oldest) = e.s_newer;
    (e.s_newer != nullptr ? e.s_newer->s_older : s.newest) = e.s_older;
    e.s_older = e.s_newer = nullptr;
    bucket_remove(s);
    const bool was_max = s.count == max_count_;
    --s.count;
    if (s.count > 0) bucket_add(s);
    // Counts move by one, so the largest is at most one lower.
    if (was_max && buckets_[max_count_] == nullptr) --max_count_;
    if (s.count == 0) sessions_.erase(s.tag);
  }

  void remove(typename std::unordered_map<Key, Entry, Hash>::iterator it) {
    unlink_all(it->second);
    unlink_session(it->second);
    entries_.erase(it);
  }
  Evicted take(Entry* e) {
    Evicted out{*e->key, std::move(e->value), e->session->tag};
    remove(entries_.find(*e->key));
    return out;
  }

  std::size_t capacity_ = 1;
  std::size_t quota_ = 1;
  std::unordered_map<Key, Entry, Hash> entries_;  // references stay valid across rehashing
  std::unordered_map<SessionTag, Session, SessionTagHash> sessions_;
  std::vector<Session*> buckets_;  // [count] -> sessions holding that many entries
  std::size_t max_count_ = 0;
  Entry* oldest_ = nullptr;
  Entry* newest_ = nullptr;
};

}  // namespace vpncheck::probes
