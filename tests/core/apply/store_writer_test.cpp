// The applier's store writer against a real SQLite store: what is asked for while a commit is
// under way shares the next one, each caller gets its own intents' ids, and after a failed
// commit nothing more is written.
#include "apply/store_writer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>

#include <boost/asio/io_context.hpp>

#include "support/delegating_store.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;

/// A real store whose commits can be held at their start, counted, and refused.
class GatedStore : public test::DelegatingStore {
 public:
  using DelegatingStore::DelegatingStore;

  /// The next commit waits at its start until `release()`.
  void hold_next() {
    std::lock_guard lock(mutex_);
    hold_ = true;
  }
  void wait_until_held() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return holding_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    hold_ = false;
    holding_ = false;
    changed_.notify_all();
  }
  std::atomic<int> commits{0};
  std::atomic<bool> refuse_done_marks{false};

 protected:
  Result<std::vector<std::int64_t>> do_commit(std::span<const Intent> intents, const StoreWrites& with) override {
    {
      std::unique_lock lock(mutex_);
      if (hold_) {
        holding_ = true;
        changed_.notify_all();
        changed_.wait(lock, [&] { return !hold_; });
      }
    }
    ++commits;
    if (refuse_done_marks && !with.inputs_done.empty())
      return std::unexpected(make_error(ErrorCode::unavailable, "the done mark refused by the test"));
    return DelegatingStore::do_commit(intents, with);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_ = false;
  bool holding_ = false;
};

class StoreWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("expbridge-writer-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    auto inner = Store::open(StoreOptions{(dir_ / "state.db").string()});
    ASSERT_TRUE(inner) << inner.error().describe();
    store_ = std::make_unique<GatedStore>(std::move(*inner));
    auto run = store_->begin_run(RunStart{"apply", "config.yaml", "digest"});
    ASSERT_TRUE(run) << run.error().describe();
    run_ = run->id;
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;  // a leftover temp folder is not worth failing a test over
    fs::remove_all(dir_, ignored);
  }

  Intent intent(std::int64_t position, const std::string& operation) const {
    Intent i;
    i.run_id = run_;
    i.input_position = position;
    i.input_digest = store_digest("input " + std::to_string(position));
    i.experiment = "checkout-redesign";
    i.backend = "aws";
    i.operation = operation;
    i.request_digest = store_digest(operation + std::to_string(position));
    i.idempotent = operation != "StartExperimentRun";
    return i;
  }
  StoreWrites input(std::int64_t position) const {
    StoreWrites w;
    w.inputs.push_back(InputRecord{run_, position, "-:" + std::to_string(position + 1),
                                   store_digest("input " + std::to_string(position)), "checkout-redesign", false});
    return w;
  }

  fs::path dir_;
  std::unique_ptr<GatedStore> store_;
  std::string run_;
  boost::asio::io_context io_;
};

TEST_F(StoreWriterTest, WhatIsAskedForWhileACommitIsUnderWaySharesTheNextCommit) {
  std::vector<Result<std::vector<std::int64_t>>> answers(11, std::vector<std::int64_t>{});
  int answered = 0;
  {
    apply::StoreWriter writer(*store_, io_.get_executor());
    store_->hold_next();
    writer.commit_intents({intent(0, "UpdateExperiment")}, input(0), [&](auto ids) {
      answers[0] = std::move(ids);
      ++answered;
    });
    store_->wait_until_held();
    // Ten inputs arrive while the first commit is held (it would be syncing): one intent each,
    // the fifth with two, and a write between them.
    for (int k = 1; k <= 10; ++k) {
      std::vector<Intent> intents = {intent(k, "UpdateExperiment")};
      if (k == 5) intents.push_back(intent(k, "StartExperimentRun"));
      writer.commit_intents(std::move(intents), input(k), [&, k](auto ids) {
        answers[static_cast<std::size_t>(k)] = std::move(ids);
        ++answered;
      });
      if (k == 3) writer.write(StoreWrites{}, [&](Status) {});
    }
    store_->release();
    writer.drain();
    EXPECT_EQ(store_->commits.load(), 2) << "the ten queued behind the first share one commit";
  }
  io_.run();
  ASSERT_EQ(answered, 11);
  std::set<std::int64_t> ids;
  for (int k = 0; k <= 10; ++k) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(answers[static_cast<std::size_t>(k)]) << answers[static_cast<std::size_t>(k)].error().describe();
    ASSERT_EQ(answers[static_cast<std::size_t>(k)]->size(), k == 5 ? 2u : 1u);
    for (auto id : *answers[static_cast<std::size_t>(k)]) ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 12u) << "every intent has an id of its own";
  auto journal = store_->inner().journal(run_);
  ASSERT_TRUE(journal) << journal.error().describe();
  ASSERT_EQ(journal->size(), 12u);
  // Each caller's ids are its own intents': the store recorded them under the same ids.
  for (int k = 0; k <= 10; ++k)
    for (auto id : *answers[static_cast<std::size_t>(k)]) {
      auto found = std::find_if(journal->begin(), journal->end(), [&](const Intent& i) { return i.id == id; });
      ASSERT_NE(found, journal->end());
      EXPECT_EQ(found->input_position, k);
    }
  auto inputs = store_->inner().inputs(run_);
  ASSERT_TRUE(inputs) << inputs.error().describe();
  EXPECT_EQ(inputs->size(), 11u);
}

TEST_F(StoreWriterTest, AfterAFailedCommitNothingMoreIsWrittenAndEveryLaterCommitSaysWhy) {
  store_->refuse_done_marks = true;
  std::optional<Status> written;
  std::optional<Result<std::vector<std::int64_t>>> later;
  {
    apply::StoreWriter writer(*store_, io_.get_executor());
    StoreWrites done = input(0);
    done.inputs_done.push_back(InputDone{run_, 0});
    writer.write(std::move(done), [&](Status s) { written = std::move(s); });
    writer.drain();
    ASSERT_TRUE(writer.failure());
    writer.commit_intents({intent(1, "StartExperimentRun")}, input(1), [&](auto ids) { later = std::move(ids); });
    writer.drain();
  }
  io_.run();
  ASSERT_TRUE(written);
  ASSERT_FALSE(*written);
  EXPECT_NE(written->error().message.find("the done mark refused by the test"), std::string::npos);
  ASSERT_TRUE(later);
  ASSERT_FALSE(*later) << "an intent committed after a lost write could let an older update land over a newer one";
  EXPECT_NE(later->error().message.find("an earlier write to the state store failed"), std::string::npos)
      << later->error().message;
  EXPECT_NE(later->error().message.find("the done mark refused by the test"), std::string::npos);
  EXPECT_EQ(store_->commits.load(), 1) << "the refused commit was not tried";
  auto journal = store_->inner().journal(run_);
  ASSERT_TRUE(journal);
  EXPECT_TRUE(journal->empty());
  auto inputs = store_->inner().inputs(run_);
  ASSERT_TRUE(inputs);
  EXPECT_TRUE(inputs->empty()) << "the failed transaction wrote nothing";
}

TEST_F(StoreWriterTest, ACommitAtOnceIsMadeOnlyWhenNothingIsQueuedOrUnderWayAndKeepsTheOrder) {
  std::optional<Result<std::vector<std::int64_t>>> queued;
  {
    apply::StoreWriter writer(*store_, io_.get_executor());
    auto now = writer.commit_intents_now(std::vector<Intent>{intent(0, "UpdateExperiment")}, input(0));
    ASSERT_TRUE(now) << "an idle writer commits at once";
    ASSERT_TRUE(*now) << now->error().describe();
    ASSERT_EQ((*now)->size(), 1u);

    store_->hold_next();
    writer.commit_intents({intent(1, "UpdateExperiment")}, input(1), [&](auto ids) { queued = std::move(ids); });
    store_->wait_until_held();
    EXPECT_FALSE(writer.commit_intents_now(std::vector<Intent>{intent(2, "UpdateExperiment")}, input(2)))
        << "a commit under way comes first: this one would have to be queued";
    store_->release();
    writer.drain();
  }
  io_.run();
  ASSERT_TRUE(queued && *queued) << (queued ? queued->error().describe() : "no answer");
  auto journal = store_->inner().journal(run_);
  ASSERT_TRUE(journal) << journal.error().describe();
  ASSERT_EQ(journal->size(), 2u) << "the refused one was not written";
  EXPECT_EQ(journal->at(0).input_position, 0);
  EXPECT_EQ(journal->at(1).input_position, 1);
}

TEST_F(StoreWriterTest, ACommitAtOnceAfterAFailedOneIsRefusedUnwritten) {
  store_->refuse_done_marks = true;
  apply::StoreWriter writer(*store_, io_.get_executor());
  StoreWrites done = input(0);
  done.inputs_done.push_back(InputDone{run_, 0});
  writer.write(std::move(done), [](Status) {});
  writer.drain();
  auto now = writer.commit_intents_now(std::vector<Intent>{intent(1, "StartExperimentRun")}, input(1));
  ASSERT_TRUE(now);
  ASSERT_FALSE(*now);
  EXPECT_NE(now->error().message.find("an earlier write to the state store failed"), std::string::npos)
      << now->error().message;
  EXPECT_EQ(store_->commits.load(), 1);
}

}  // namespace
}  // namespace expbridge
