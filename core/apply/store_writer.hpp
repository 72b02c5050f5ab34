// The applier's writes to its state store, committed on a thread of their own: the event loop
// never waits for SQLite's work or for a sync, so the updates in flight go on while a commit is
// under way, and what is asked for meanwhile shares the next commit (one sync for all of it).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "expbridge/store.hpp"

namespace expbridge::apply {

class StoreWriter {
 public:
  /// Called on `completions` (the event loop) once the commit is done: the intents' ids in
  /// order, or why nothing of it was committed.
  using IntentsDone = std::function<void(Result<std::vector<std::int64_t>>)>;
  using WritesDone = std::function<void(Status)>;

  StoreWriter(Store& store, boost::asio::any_io_executor completions);
  /// Commits what was asked for, then stops the thread. Completions not run by then are
  /// destroyed unrun, with the loop.
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  /// `intents` durable, committed in one transaction with `with` (written first) and with
  /// whatever else waits; then `done`.
  void commit_intents(std::vector<Intent> intents, StoreWrites with, IntentsDone done);
  /// The same, at once on the caller's thread, when nothing is queued or under way (so in the
  /// same order): none when the writer is busy, and the caller queues it. For a caller with
  /// nothing else to do meanwhile, this saves the two hand-offs between threads.
  std::optional<Result<std::vector<std::int64_t>>> commit_intents_now(std::span<const Intent> intents,
                                                                      const StoreWrites& with);
  /// `writes` committed without a sync of their own (Store::write), in order with the rest.
  void write(StoreWrites writes, WritesDone done);
  /// Blocks until everything asked for so far is committed (or has failed): for a caller that
  /// goes on with the store itself. Their completions are posted, not run.
  void drain();

  /// The first commit that failed: every later one fails with it unsent, so that nothing
  /// committed after a lost write (an outcome, a done mark) can make a resumed run apply an
  /// older update over a newer one.
  std::optional<Error> failure() const;
  /// What a commit refused after `failure` says.
  static Error refused_after(Error failure);

 private:
  struct Job {
    std::vector<Intent> intents;
    StoreWrites writes;
    IntentsDone intents_done;
    WritesDone writes_done;
  };
  void run();
  void commit(std::vector<Job>& batch);
  void enqueue(Job job);

  Store& store_;
  boost::asio::any_io_executor completions_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::optional<Error> failure_;
  std::thread thread_;
};

}  // namespace expbridge::apply
