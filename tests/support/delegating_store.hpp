// A real store behind a test's own: every operation goes to the store it wraps, and a test
// overrides the few it makes fail, hold or count.
#pragma once

#include <memory>
#include <string>

#include "expbridge/store.hpp"

namespace expbridge::test {

class DelegatingStore : public Store {
 public:
  explicit DelegatingStore(std::unique_ptr<Store> inner)
      : Store(inner->location(), StoreOptions{inner->location()}), inner_(std::move(inner)) {}
  Store& inner() { return *inner_; }

 protected:
  int do_schema_version() const override { return inner_->schema_version(); }
  Result<Run> do_begin_run(const RunStart& s) override { return inner_->begin_run(s); }
  Status do_finish_run(const std::string& id) override { return inner_->finish_run(id); }
  Result<std::optional<Run>> do_last_unfinished_run(const std::string& c) override {
    return inner_->last_unfinished_run(c);
  }
  Status do_record_input(const InputRecord& i) override { return inner_->record_input(i); }
  Status do_mark_input_done(const std::string& id, std::int64_t p) override { return inner_->mark_input_done(id, p); }
  Result<std::vector<InputRecord>> do_inputs(const std::string& id) override { return inner_->inputs(id); }
  Result<std::int64_t> do_record_intent(const Intent& i) override { return inner_->record_intent(i); }
  Status do_record_outcome(std::int64_t id, IntentOutcome o, int s, std::string_view e) override {
    return inner_->record_outcome(id, o, s, e);
  }
  Result<std::vector<Intent>> do_journal(const std::string& id) override { return inner_->journal(id); }
  Status do_save_backend(const BackendRecord& r) override { return inner_->save_backend(r); }
  Result<std::optional<BackendRecord>> do_backend(const std::string& e, const std::string& b) override {
    return inner_->backend(e, b);
  }
  Result<std::vector<BackendRecord>> do_backends(const std::optional<std::string>& e) override {
    return inner_->backends(e);
  }
  Status do_add_history(const HistoryEntry& h) override { return inner_->add_history(h); }
  Result<std::vector<HistoryEntry>> do_history(const std::string& e) override { return inner_->history(e); }
  Result<ExperimentLock> do_lock_experiment(const std::string& e) override { return inner_->lock_experiment(e); }
  Result<std::optional<ExperimentLock>> do_try_lock_experiment(const std::string& e) override {
    return inner_->try_lock_experiment(e);
  }
  Result<std::vector<std::int64_t>> do_commit(std::span<const Intent> intents, const StoreWrites& with) override {
    return inner_->record_intents(intents, with);
  }

 private:
  std::unique_ptr<Store> inner_;
};

}  // namespace expbridge::test
