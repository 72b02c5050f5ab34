#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "apply/async_sync.hpp"
#include "apply/authenticator.hpp"
#include "apply/retry_policy.hpp"
#include "expbridge/apply.hpp"
#include "http/beast_http_client.hpp"
#include "json_writer.hpp"
#include "log.hpp"

namespace expbridge {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

}  // namespace

std::string_view to_string(BackendOutcome outcome) noexcept {
  switch (outcome) {
    case BackendOutcome::ok: return "ok";
    case BackendOutcome::failed: return "failed";
    case BackendOutcome::skipped: return "skipped";
  }
  return "failed";
}

bool UpdateReport::ok() const {
  if (error) return false;
  return std::none_of(backends.begin(), backends.end(),
                      [](const BackendReport& b) { return b.result == BackendOutcome::failed; });
}

struct Applier::Impl {
  /// One configured backend, ready to send.
  struct Backend {
    const BackendInfo* info = nullptr;
    std::unique_ptr<apply::Authenticator> auth;
    std::optional<Error> auth_error;  ///< why this backend cannot authenticate; reported per update
    std::unique_ptr<apply::AsyncSemaphore> in_flight;
  };

  const Bridge* bridge = nullptr;
  ApplyOptions options;
  asio::io_context io{1};
  std::unique_ptr<http::HttpClient> client;
  apply::TokenCache tokens;
  apply::AuthContext auth_context;
  std::vector<Backend> backends;
  std::mt19937_64 random{std::random_device{}()};
  std::map<std::string, std::unique_ptr<apply::AsyncSemaphore>, std::less<>> experiment_locks;

  Backend* find_backend(std::string_view name) {
    for (auto& b : backends)
      if (b.info->name == name) return &b;
    return nullptr;
  }

  // The shortest deadline_ms among the backends of `plan` (the backends an update goes to).
  std::chrono::milliseconds shortest_deadline(const Plan& plan) const {
    std::optional<std::chrono::milliseconds> shortest;
    for (const auto& b : plan.backends)
      for (const auto& info : bridge->backends())
        if (info.name == b.backend && (!shortest || info.send.deadline < *shortest)) shortest = info.send.deadline;
    return shortest.value_or(SendOptions{}.deadline);
  }

  apply::AsyncSemaphore& experiment_lock(const std::string& experiment) {
    auto& lock = experiment_locks[experiment];
    if (!lock) lock = std::make_unique<apply::AsyncSemaphore>(io.get_executor(), 1);
    return *lock;
  }

  Error located(Error e, const Backend& backend, const PlannedRequest& request) const {
    e.backend = backend.info->name;
    e.vendor = backend.info->vendor;
    if (e.operation.empty()) e.operation = request.operation;
    return e;
  }

  // One request, attempts and backoff included. Returns true when it succeeded.
  asio::awaitable<bool> send_request(Backend& backend, RequestReport& report, Clock::time_point deadline,
                                     http::Response* last_response = nullptr) {
    const SendOptions& send = backend.info->send;
    const HttpSpec& spec = backend.info->table->http();
    const apply::RetryOptions retry{send.attempts, send.retry_base, send.retry_cap};
    const PlannedRequest& planned = report.request;
    const std::string body = planned.body ? write_json(*planned.body) : std::string();
    const auto started = Clock::now();
    bool refreshed_credentials = false;
    auto log = logger();

    for (int attempt = 1;; ++attempt) {
      auto left = remaining(deadline);
      if (left <= std::chrono::milliseconds::zero()) {
        Error e = make_error(ErrorCode::unavailable, "deadline of " + std::to_string(send.deadline.count()) +
                                                         " ms for this backend passed before the request succeeded");
        e.request_sent = report.sent;
        report.error = located(std::move(e), backend, planned);
        break;
      }
      http::Request request;
      request.method = planned.method;
      request.url = planned.url;
      for (const auto& [name, value] : planned.headers) request.headers.push_back({name, value});
      request.body = body;
      request.timeout = std::min(send.timeout, left);
      // The table's word, not the method's: the client resends only what may go twice.
      request.idempotent = planned.idempotent;
      int writes = 0;
      request.write_count = &writes;

      co_await backend.in_flight->acquire();
      auto authorized = co_await backend.auth->authorize(request);
      if (!authorized) {
        backend.in_flight->release();
        Error e = std::move(authorized).error();
        // A token endpoint that is down or throttling is transient, and the API request
        // itself was never sent: the same policy as a failed connection applies.
        if (e.code == ErrorCode::unavailable || e.code == ErrorCode::rate_limited) {
          e.request_sent = false;
          apply::AttemptOutcome outcome{nullptr, &e};
          auto decision = apply::decide_retry(spec, retry, attempt, planned.idempotent, outcome,
                                              std::chrono::system_clock::now(), random);
          if (decision.retry && decision.delay < remaining(deadline)) {
            log->info("backend {}: credentials: {}: {}", backend.info->name, e.message, decision.reason);
            asio::steady_timer timer(io, decision.delay);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
          }
        }
        report.error = located(std::move(e), backend, planned);
        break;
      }
      log->debug("backend {}: {} {} (attempt {})", backend.info->name, planned.method, planned.url, attempt);
      auto attempt_started = Clock::now();
      auto response = co_await client->send(std::move(request));
      backend.in_flight->release();
      // `attempts` counts what went on the wire: the client's transparent resend counts, a
      // connection that never opened does not. A client that does not count (a test
      // double) wrote once when it has an answer or says the request may have arrived.
      if (writes == 0 && (response || response.error().request_sent)) writes = 1;
      report.attempts += writes;  // a resend after a 401 refresh is counted too

      if (response) {
        report.sent = true;
        report.status = response->status;
        if (last_response) *last_response = *response;
        log->debug("backend {}: {} {} -> {} in {:.1f} ms", backend.info->name, planned.method, planned.url,
                   response->status, elapsed_ms(attempt_started));
        if (response->status >= 200 && response->status < 300) {
          report.error.reset();
          report.duration_ms = elapsed_ms(started);
          co_return true;
        }
        // A cached token can expire early (revoked, clock skew): fetch a fresh one, once.
        if (response->status == 401 && !refreshed_credentials && backend.auth->forget_credentials()) {
          refreshed_credentials = true;
          log->info("backend {}: 401, fetching fresh credentials and retrying once", backend.info->name);
          --attempt;
          continue;
        }
      } else {
        report.sent = report.sent || response.error().request_sent;
        log->debug("backend {}: {} {} failed: {}", backend.info->name, planned.method, planned.url,
                   response.error().message);
      }

      apply::AttemptOutcome outcome{response ? &*response : nullptr, response ? nullptr : &response.error()};
      auto decision =
          apply::decide_retry(spec, retry, attempt, planned.idempotent, outcome, std::chrono::system_clock::now(), random);
      // A wait that would end past the deadline is not worth starting: report what the vendor said.
      const bool past_deadline = decision.retry && decision.delay >= remaining(deadline);
      if (!decision.retry || past_deadline) {
        Error e = response ? apply::vendor_error(spec, *response) : response.error();
        if (attempt > 1) e.message += " (after " + std::to_string(attempt) + " attempts)";
        if (past_deadline)
          e.message += " (the next try, in " + std::to_string(decision.delay.count()) + " ms, would pass the " +
                       std::to_string(send.deadline.count()) + " ms deadline)";
        if (!response && e.request_sent && !planned.idempotent)
          e.message += "; the vendor may have applied it: read its state before sending again";
        report.error = located(std::move(e), backend, planned);
        break;
      }
      auto wait = decision.delay;
      log->info("backend {}: {} {}: {}", backend.info->name, planned.method, planned.url, decision.reason);
      if (wait > std::chrono::milliseconds::zero()) {
        asio::steady_timer timer(io, wait);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
    report.duration_ms = elapsed_ms(started);
    co_return false;
  }

  // The state reads of one backend, and what its adapter makes of the answers. Every
  // read ends by `read_deadline` (the HTTP timeout, the token fetch and the backoff are
  // all bounded by it), so the barrier after the reads never waits longer than that.
  asio::awaitable<void> read_backend(Backend& backend, const Update& update, std::vector<PlannedRequest> requests,
                                     Clock::time_point update_started, Clock::time_point read_deadline,
                                     std::chrono::milliseconds read_budget, std::optional<Experiment>& state,
                                     std::optional<Error>& failure) {
    if (backend.auth_error) co_return;  // reported with the backend's requests
    std::vector<ReadResponse> responses;
    for (auto& request : requests) {
      RequestReport read{std::move(request), false, 0, 0, 0, {}};
      http::Response response;
      bool ok = co_await send_request(backend, read, read_deadline, &response);
      // A definite answer about the resource ("no such run yet") is state too; the adapter decides.
      const bool answered = read.status == 404 || read.status == 409;
      if (!ok && !answered) {
        Error e = read.error.value_or(make_error(ErrorCode::internal, "state read failed"));
        // The budget ran out when the read stopped at the read deadline, or early because
        // the next try would not have fitted before it (send_request then says "deadline").
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - update_started);
        if (remaining(read_deadline) <= std::chrono::milliseconds(5) || e.message.find("deadline") != std::string::npos) {
          e.message = "reading the current state first: " + read.request.operation +
                      " did not answer within the read budget of " + std::to_string(read_budget.count()) + " ms (" +
                      std::to_string(waited.count()) +
                      " ms waited; the budget is half the shortest deadline_ms of this update's backends); nothing "
                      "was changed at this backend [" +
                      e.message + "]";
        } else {
          e.message = "reading the current state first: " + e.message;
        }
        failure = std::move(e);
        co_return;
      }
      responses.push_back(ReadResponse{read.status, std::move(response.body)});
    }
    auto read_state = bridge->read_state(backend.info->name, update, responses);
    if (!read_state) {
      failure = std::move(read_state).error();
      co_return;
    }
    state = std::move(*read_state);
  }

  asio::awaitable<void> run_backend(Backend& backend, BackendPlan plan, BackendReport& report,
                                    std::optional<Error> read_failure, Clock::time_point update_started) {
    const auto started = Clock::now();
    // From the update's start: the time spent waiting for state reads counts against it.
    const auto deadline = update_started + backend.info->send.deadline;
    report.backend = plan.backend;
    report.vendor = plan.vendor;
    report.skipped = std::move(plan.skipped);
    report.notes = std::move(plan.notes);
    for (auto& request : plan.requests) report.requests.push_back(RequestReport{std::move(request), false, 0, 0, 0, {}});
    if (report.requests.empty()) {
      report.result = BackendOutcome::skipped;
      co_return;
    }
    if (backend.auth_error || read_failure) {
      report.result = BackendOutcome::failed;
      report.error = backend.auth_error ? backend.auth_error : read_failure;
      co_return;
    }
    report.result = BackendOutcome::ok;
    for (auto& request : report.requests) {
      bool ok = false;
      try {
        ok = co_await send_request(backend, request, deadline);
      } catch (const std::exception& ex) {
        // Only a bug or resource exhaustion gets here; keep it to this backend.
        request.error = make_error(ErrorCode::internal, std::string("unexpected failure: ") + ex.what());
      }
      if (!ok) {
        report.result = BackendOutcome::failed;
        report.error = request.error;
        break;
      }
    }
    report.duration_ms = elapsed_ms(started);
  }

  asio::awaitable<void> run_update(std::string source, Result<Update> update, UpdateReport& report) {
    const auto started = Clock::now();
    report.source = std::move(source);
    if (!update) {
      report.error = std::move(update).error();
      co_return;
    }
    report.experiment = update->experiment;
    auto& lock = experiment_lock(update->experiment);
    co_await lock.acquire();
    // Each backend's deadline_ms counts from here (after the wait for an earlier update of
    // the same experiment, which is that update's time, not this one's).
    const auto update_started = Clock::now();
    // Rules that depend on the vendor's state (AppConfig exposure may only rise, Auth0
    // allocations are frozen while active) need a read first: GETs only, all backends at once.
    // First without state: an update that is invalid whatever the vendors hold sends nothing, not even a read.
    auto stateless = bridge->plan(*update, options.plan);
    if (!stateless) {
      report.error = std::move(stateless).error();
      lock.release();
      co_return;
    }
    PlanOptions plan_options = options.plan;
    std::vector<std::string> read_names;
    std::vector<std::optional<Experiment>> states;
    std::vector<std::optional<Error>> read_failures;
    if (auto reads = bridge->state_reads(*update, options.plan); reads && !reads->empty()) {
      states.resize(reads->size());
      read_failures.resize(reads->size());
      // The read budget: every backend must keep at least half of its own deadline for its
      // writes, so the reads (and the barrier after them) get half the shortest deadline
      // among the backends this update goes to. A read that does not answer in time fails
      // its backend alone; the others are planned with what did answer and go on.
      const auto read_budget = shortest_deadline(*stateless) / 2;
      const auto read_deadline = update_started + read_budget;
      apply::WaitGroup all_read(io.get_executor());
      for (std::size_t i = 0; i < reads->size(); ++i) {
        read_names.push_back((*reads)[i].backend);
        all_read.add();
        asio::co_spawn(io,
                       read_backend(*find_backend((*reads)[i].backend), *update, std::move((*reads)[i].requests),
                                    update_started, read_deadline, read_budget, states[i], read_failures[i]),
                       [&all_read](std::exception_ptr) { all_read.done(); });
      }
      co_await all_read.wait();
      for (std::size_t i = 0; i < states.size(); ++i)
        if (states[i]) plan_options.current.emplace_back(read_names[i], &*states[i]);
    }
    // Every backend's plan is built and checked before the first change leaves.
    auto plan = bridge->plan(*update, plan_options);
    if (!plan) {
      report.error = std::move(plan).error();
      lock.release();
      co_return;
    }
    report.backends.resize(plan->backends.size());
    apply::WaitGroup all(io.get_executor());
    for (std::size_t i = 0; i < plan->backends.size(); ++i) {
      Backend* backend = find_backend(plan->backends[i].backend);
      std::optional<Error> read_failure;
      for (std::size_t r = 0; r < read_names.size(); ++r)
        if (read_names[r] == backend->info->name) read_failure = read_failures[r];
      all.add();
      asio::co_spawn(io,
                     run_backend(*backend, std::move(plan->backends[i]), report.backends[i], std::move(read_failure),
                                 update_started),
                     [&all](std::exception_ptr) { all.done(); });
    }
    co_await all.wait();
    lock.release();
    report.duration_ms = elapsed_ms(started);
  }

  // Runs the loop until `done` says so; handlers posted from the reader thread wake it.
  void run_until(const bool& done) {
    io.restart();
    while (!done) io.run_one();
  }
};

Applier::Applier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Applier::~Applier() = default;
Applier::Applier(Applier&&) noexcept = default;
Applier& Applier::operator=(Applier&&) noexcept = default;

Result<Applier> Applier::create(const Bridge& bridge, ApplyOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->bridge = &bridge;
  impl->options = std::move(options);
  if (impl->options.http_client) {
    try {
      impl->client = impl->options.http_client(impl->io);
    } catch (const std::exception& e) {
      return std::unexpected(
          make_error(ErrorCode::internal, std::string("unexpected failure while making the injected HTTP client: ") + e.what()));
    }
    if (!impl->client) return std::unexpected(make_error(ErrorCode::internal, "the injected HTTP client factory made no client"));
  } else {
    http::ClientOptions client_options;
    client_options.extra_ca_file = impl->options.extra_ca_file;
    // Refused now, before any update is read or sent: otherwise every backend would fail the
    // same way at its first request, and only then.
    if (!client_options.extra_ca_file.empty()) {
      if (auto usable = http::check_ca_file(client_options.extra_ca_file); !usable) {
        Error e = std::move(usable).error();
        e.field = "extra_ca_file";
        return std::unexpected(std::move(e));
      }
    }
    impl->client = http::make_beast_client(impl->io, client_options);
  }
  impl->auth_context.client = impl->client.get();
  impl->auth_context.tokens = &impl->tokens;
  if (impl->options.environment) {
    impl->auth_context.env = impl->options.environment;
  } else {
    impl->auth_context.env = apply::process_environment();
  }
  if (impl->options.parallel_updates < 1 || impl->options.parallel_updates > 256)
    return std::unexpected(invalid_field("parallel", "must be 1..256"));
  for (const auto& info : bridge.backends()) {
    Impl::Backend backend;
    backend.info = &info;
    auto auth = apply::make_authenticator(info.adapter->auth(), impl->auth_context);
    if (auth) {
      backend.auth = std::move(*auth);
    } else {
      Error e = std::move(auth).error();
      e.backend = info.name;
      e.vendor = info.vendor;
      backend.auth_error = std::move(e);
    }
    backend.in_flight = std::make_unique<apply::AsyncSemaphore>(impl->io.get_executor(), info.send.max_in_flight);
    impl->backends.push_back(std::move(backend));
  }
  return Applier(std::move(impl));
}

UpdateReport Applier::apply(const Update& update) {
  UpdateReport report;
  bool done = false;
  asio::co_spawn(impl_->io, impl_->run_update(update.source, update, report), [&done](std::exception_ptr) { done = true; });
  impl_->run_until(done);
  return report;
}

void Applier::apply_all(const UpdateSource& next, const std::function<void(UpdateReport)>& sink) {
  Impl& impl = *impl_;
  using Item = std::pair<std::string, Result<Update>>;

  // The source may block (standard input), so it is read on its own thread; a bounded
  // queue keeps a fast producer from buffering a whole stream in memory.
  constexpr std::size_t kQueueLimit = 64;
  std::mutex mutex;
  std::condition_variable space;
  std::deque<Item> queue;
  bool input_done = false;
  bool stop_reading = false;
  asio::steady_timer input_ready(impl.io, asio::steady_timer::time_point::max());

  std::thread reader([&] {
    while (true) {
      std::optional<Item> item;
      {
        std::unique_lock lock(mutex);
        space.wait(lock, [&] { return queue.size() < kQueueLimit || stop_reading; });
        if (stop_reading) break;
      }
      item = next();
      {
        std::lock_guard lock(mutex);
        if (!item) {
          input_done = true;
        } else {
          queue.push_back(std::move(*item));
        }
      }
      asio::post(impl.io, [&input_ready] { input_ready.cancel(); });
      if (!item) break;
    }
  });

  bool done = false;
  auto dispatcher = [&]() -> asio::awaitable<void> {
    apply::AsyncSemaphore window(impl.io.get_executor(), impl.options.parallel_updates);
    apply::WaitGroup all(impl.io.get_executor());
    std::map<std::size_t, std::unique_ptr<UpdateReport>> finished;
    std::size_t next_index = 0, next_to_report = 0;
    auto flush = [&] {
      // Reports leave in input order, whatever order the updates finish in. An update holds
      // its window slot until its report is out, so a slow update bounds what piles up behind it.
      for (auto it = finished.find(next_to_report); it != finished.end(); it = finished.find(next_to_report)) {
        sink(std::move(*it->second));
        finished.erase(it);
        ++next_to_report;
        window.release();
      }
    };
    while (true) {
      std::optional<Item> item;
      bool end = false;
      {
        std::lock_guard lock(mutex);
        if (!queue.empty()) {
          item = std::move(queue.front());
          queue.pop_front();
        } else {
          end = input_done;
        }
      }
      if (item) space.notify_one();
      if (!item && end) break;
      if (!item) {
        input_ready.expires_at(asio::steady_timer::time_point::max());
        {
          // Re-check under the lock: the reader may have posted its wake-up already.
          std::lock_guard lock(mutex);
          if (!queue.empty() || input_done) continue;
        }
        co_await input_ready.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      co_await window.acquire();
      auto report = std::make_unique<UpdateReport>();
      UpdateReport* slot = report.get();
      std::size_t index = next_index++;
      all.add();
      asio::co_spawn(impl.io, impl.run_update(std::move(item->first), std::move(item->second), *slot),
                     [&, index, owned = std::shared_ptr<UpdateReport>(std::move(report))](std::exception_ptr) mutable {
                       finished[index] = std::make_unique<UpdateReport>(std::move(*owned));
                       flush();
                       all.done();
                     });
    }
    co_await all.wait();
    flush();
  };
  asio::co_spawn(impl.io, dispatcher(), [&done](std::exception_ptr) { done = true; });
  impl.run_until(done);
  {
    std::lock_guard lock(mutex);
    stop_reading = true;
  }
  space.notify_all();
  reader.join();
  // The reader's last wake-up may still be queued, and it refers to `input_ready`, a local:
  // run it now, while that timer exists.
  impl.io.restart();
  impl.io.poll();
}

}  // namespace expbridge
