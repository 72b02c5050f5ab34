#include "apply/store_writer.hpp"

#include <iterator>
#include <utility>

#include <boost/asio/post.hpp>

namespace expbridge::apply {
namespace {

template <class T>
void append(std::vector<T>& into, std::vector<T>& from) {
  if (into.empty()) {
    into = std::move(from);
    return;
  }
  into.insert(into.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

/// `from` after `into`, member by member: Store commits a StoreWrites member by member, so this
/// is what committing both in one transaction does; each member's own order is kept.
void append(StoreWrites& into, StoreWrites& from) {
  append(into.inputs, from.inputs);
  append(into.outcomes, from.outcomes);
  append(into.inputs_done, from.inputs_done);
  append(into.backends, from.backends);
  append(into.applied, from.applied);
  append(into.history, from.history);
}

}  // namespace

StoreWriter::StoreWriter(Store& store, boost::asio::any_io_executor completions)
    : store_(store), completions_(std::move(completions)), thread_([this] { run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void StoreWriter::enqueue(Job job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  work_.notify_one();
}

void StoreWriter::commit_intents(std::vector<Intent> intents, StoreWrites with, IntentsDone done) {
  enqueue(Job{std::move(intents), std::move(with), std::move(done), {}});
}

std::optional<Result<std::vector<std::int64_t>>> StoreWriter::commit_intents_now(std::span<const Intent> intents,
                                                                                 const StoreWrites& with) {
  {
    std::lock_guard lock(mutex_);
    if (busy_ || !queue_.empty()) return std::nullopt;
    if (failure_) return Result<std::vector<std::int64_t>>(std::unexpected(refused_after(*failure_)));
    busy_ = true;  // the thread takes nothing meanwhile: what is queued now comes after this
  }
  auto ids = store_.record_intents(intents, with);
  {
    std::lock_guard lock(mutex_);
    if (!ids) failure_ = ids.error();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
  work_.notify_one();
  return ids;
}

void StoreWriter::write(StoreWrites writes, WritesDone done) {
  enqueue(Job{{}, std::move(writes), {}, std::move(done)});
}

void StoreWriter::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

Error StoreWriter::refused_after(Error failure) {
  failure.message = "an earlier write to the state store failed, so nothing more is written in this run: " +
                    failure.message;
  return failure;
}

std::optional<Error> StoreWriter::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

void StoreWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return (stopping_ && !busy_) || (!queue_.empty() && !busy_); });
    if (queue_.empty()) return;  // stopping, and nothing left to commit
    // Everything that waits goes in one transaction: while the last commit synced, the loop
    // went on and queued more, and they share this one's sync.
    std::vector<Job> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    busy_ = true;
    lock.unlock();
    commit(batch);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

void StoreWriter::commit(std::vector<Job>& batch) {
  std::optional<Error> refused;
  {
    std::lock_guard lock(mutex_);
    refused = failure_;
  }
  std::vector<Intent> intents;
  StoreWrites writes;
  std::vector<std::size_t> intent_counts;
  for (Job& job : batch) {
    intent_counts.push_back(job.intents.size());
    append(intents, job.intents);
    append(writes, job.writes);
  }
  Result<std::vector<std::int64_t>> ids = std::vector<std::int64_t>{};
  if (refused) {
    ids = std::unexpected(refused_after(*refused));
  } else if (!intents.empty()) {
    ids = store_.record_intents(intents, writes);
  } else if (Status written = store_.write(writes); !written) {
    ids = std::unexpected(std::move(written).error());
  }
  if (!ids && !refused) {
    std::lock_guard lock(mutex_);
    failure_ = ids.error();
  }
  // Freed on the loop's thread, which allocated them: freed here, each block would go back
  // to the other thread's arena under its lock, and that thread's next allocations would
  // miss its cache (perf showed malloc's slow paths costing the loop more than the commit).
  boost::asio::post(completions_, [intents = std::move(intents), writes = std::move(writes)] {});
  // Each job's share of the ids, in the order its intents were merged.
  std::size_t next_id = 0;
  for (std::size_t j = 0; j < batch.size(); ++j) {
    Job& job = batch[j];
    const std::size_t count = intent_counts[j];
    if (job.intents_done) {
      Result<std::vector<std::int64_t>> mine = std::vector<std::int64_t>{};
      if (!ids) {
        mine = std::unexpected(ids.error());
      } else {
        mine->assign(ids->begin() + static_cast<std::ptrdiff_t>(next_id),
                     ids->begin() + static_cast<std::ptrdiff_t>(next_id + count));
        next_id += count;
      }
      boost::asio::post(completions_, [done = std::move(job.intents_done), mine = std::move(mine)]() mutable {
        done(std::move(mine));
      });
    } else if (job.writes_done) {
      Status mine = ids ? Status{} : Status{std::unexpected(ids.error())};
      boost::asio::post(completions_, [done = std::move(job.writes_done), mine = std::move(mine)]() mutable {
        done(std::move(mine));
      });
    }
  }
}

}  // namespace expbridge::apply
