#include "server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "api_error.h"
#include "job_queue.h"
#include "metrics.h"
#include "openai_request.h"
#include "openai_response.h"
#include "peer_socket.h"
#include "web_page.h"

namespace duogen::server {
namespace {

using json = nlohmann::json;
using httplib::Request;
using httplib::Response;

constexpr const char* kJson = "application/json";

// Events a generation produces for a streamed answer, drained by the HTTP thread.
class EventStream {
 public:
  void push(std::string event) {
    {
      const std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
  }
  void close() {
    {
      const std::lock_guard lock(mutex_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  // Waits up to `timeout` for events; returns them and whether the stream has ended.
  std::pair<std::deque<std::string>, bool> take(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [this] { return !events_.empty() || closed_; });
    return {std::exchange(events_, {}), closed_};
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> events_;
  bool closed_ = false;
};

// What a blocking request's work leaves for its handler.
struct Outcome {
  std::optional<ApiError> error;
  std::string body;
};

// The Request's start, for the latency histogram (set by the pre-routing handler).
thread_local std::optional<Clock::time_point> request_start;

class Server {
 public:
  Server(Engine& engine, const ServerOptions& options)
      : engine_(engine), options_(options), queue_(options.max_queue, JobQueue::Worker::kCaller) {
    limits_.model_id = engine.info().id;
    for (const auto& dir : options.allow_paths) {
      std::error_code ec;
      const auto canonical = std::filesystem::canonical(dir, ec);
      if (ec || !std::filesystem::is_directory(canonical)) {
        throw InvalidArgument(fmt::format("--allow-path {}: not a directory", dir.string()));
      }
      limits_.allow_paths.push_back(canonical);
    }
    limits_.max_input_images = options.max_input_images;
    limits_.max_image_pixels = options.max_image_pixels;
    limits_.max_tokens = options.max_tokens;
    limits_.default_max_tokens =
        std::min(engine.info().defaults.max_new_tokens.value_or(1024), options.max_tokens);
    created_ = std::time(nullptr);
    routes();
  }

  void run(std::stop_token shutdown, const std::function<void(const std::string&)>& on_listening);

 private:
  void routes();
  bool authorized(const Request& req, Response& res);
  void chat(const Request& req, Response& res);
  void images(const Request& req, Response& res, bool edit);
  std::shared_ptr<Task> submit(std::function<void(Task&)> work);
  // Waits for a blocking request's task, cancelling it if its client goes away.
  void wait_blocking(const Request& req, Task& task);
  ApiError stop_error(const Task& task) const;
  // Runs `fn`, turning errors into OpenAI error answers.
  void answer(Response& res, const std::function<void()>& fn) const;
  Completion completion() {
    return {fmt::format("chatcmpl-{:x}{:06x}", created_, ++counter_), std::time(nullptr),
            engine_.info().id};
  }
  void record(const GenerationResult& r) {
    double decode = 0;
    for (const auto& [stage, s] : r.timings_s) {
      if (stage == "decode") decode = s;
    }
    metrics_.job_done(r.prompt_tokens, r.completion_tokens, r.images, decode);
    if (spdlog::should_log(spdlog::level::debug)) {
      std::string stages;
      for (const auto& [stage, s] : r.timings_s) stages += fmt::format(" {} {:.4f}", stage, s);
      spdlog::debug("job '{}': {} + {} tokens, {} image(s); seconds:{}", r.job_id,
                    r.prompt_tokens, r.completion_tokens, r.images, stages);
    }
  }

  Engine& engine_;
  ServerOptions options_;
  RequestLimits limits_;
  JobQueue queue_;
  Metrics metrics_;
  httplib::Server http_;
  std::int64_t created_ = 0;
  std::atomic<std::uint64_t> counter_{0};
};

// The error a client sees for the exception being handled: bad input as 400 naming the field,
// anything else as a 500 whose details go to the log only.
ApiError current_error() {
  try {
    throw;
  } catch (const ApiError& e) {
    return e;
  } catch (const FieldError& e) {
    return bad_field(e.field(), e.what());
  } catch (const FormatError& e) {
    return ApiError(400, e.what());
  } catch (const std::exception& e) {
    spdlog::error("request failed: {}", e.what());
  } catch (...) {
    spdlog::error("request failed");
  }
  return ApiError(500, "internal server error (the server log has the details)");
}

void Server::answer(Response& res, const std::function<void()>& fn) const {
  try {
    fn();
  } catch (...) {
    const ApiError e = current_error();
    res.status = e.status();
    res.set_content(e.json(), kJson);
  }
}

std::shared_ptr<Task> Server::submit(std::function<void(Task&)> work) {
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(options_.timeout_s));
  try {
    return queue_.submit(std::move(work), deadline);
  } catch (const QueueFull&) {
    throw ApiError(429, fmt::format("the server is busy: {} requests are already waiting (its "
                                    "--max-queue); try again later",
                                    options_.max_queue),
                   "", "queue_full");
  } catch (const ShuttingDown&) {
    throw ApiError(503, "the server is shutting down", "", "shutting_down");
  }
}

ApiError Server::stop_error(const Task& task) const {
  switch (task.reason()) {
    case StopReason::kTimeout:
      return ApiError(504, fmt::format("the request ran past the server's --timeout of {} s",
                                       options_.timeout_s),
                      "", "timeout");
    case StopReason::kShutdown:
      return ApiError(503, "the server is shutting down; the request was cancelled", "",
                      "shutting_down");
    case StopReason::kClientGone:
      return ApiError(499, "the client closed the connection", "", "client_closed");
    case StopReason::kNone:
      break;
  }
  return ApiError(500, "the request was cancelled");
}

void Server::wait_blocking(const Request& req, Task& task) {
  const int fd = find_connection_socket(req.local_port, req.remote_port);
  while (!task.wait_for(std::chrono::milliseconds(100))) {
    if (peer_closed(fd)) {
      spdlog::info("client {}:{} went away; cancelling its request", req.remote_addr,
                   req.remote_port);
      task.cancel(StopReason::kClientGone);
    }
  }
}

// Runs a generation on the worker and records the outcome: the error, if any, as the client
// should see it.
template <typename Fn>
void run_work(Outcome& out, const std::function<ApiError()>& stop_error, Fn&& fn) {
  try {
    fn();
  } catch (const Cancelled&) {
    out.error = stop_error();
    spdlog::info("request cancelled: {}", out.error->what());
  } catch (...) {
    out.error = current_error();
  }
}

void Server::chat(const Request& req, Response& res) {
  ChatRequest r = parse_chat_request(req.body, limits_);
  if (engine_.info().kind == ModelKind::kCosmosSnapshot) {
    throw ApiError(400, fmt::format("'{}' is a Cosmos-Predict2.5 snapshot: it makes images only "
                                    "(POST /v1/images/generations), not chat answers",
                                    engine_.info().id),
                   "model");
  }
  engine_.check(r.job);
  if (!r.user.empty()) spdlog::info("chat request from user '{}'", r.user);
  const Completion c = completion();
  if (!r.stream) {
    auto outcome = std::make_shared<Outcome>();
    auto task = submit([this, r, c, outcome](Task& task) {
      run_work(*outcome, [&] { return stop_error(task); }, [&] {
        const GenerationResult result = engine_.generate(r.job, {}, task.token());
        record(result);
        outcome->body = chat_completion(c, result, r.images).dump();
      });
    });
    wait_blocking(req, *task);
    if (outcome->error) throw *outcome->error;
    res.set_content(outcome->body, kJson);
    return;
  }
  auto stream = std::make_shared<EventStream>();
  auto task = submit([this, r, c, stream](Task& task) {
    Outcome outcome;
    stream->push(sse(first_chunk(c)));
    run_work(outcome, [&] { return stop_error(task); }, [&] {
      GenerationCallbacks on;
      on.on_text = [&](std::string_view piece) { stream->push(sse(text_chunk(c, piece))); };
      on.on_image_progress = [&](std::size_t image, std::int64_t step, std::int64_t steps) {
        stream->push(sse(progress_chunk(c, image, step, steps)));
      };
      on.on_image = [&](std::size_t, const Image& image) {
        stream->push(sse(image_chunk(c, image)));
      };
      const GenerationResult result = engine_.generate(r.job, on, task.token());
      record(result);
      stream->push(sse(last_chunk(c, result)));
      if (r.include_usage) stream->push(sse(usage_chunk(c, result)));
    });
    if (outcome.error) stream->push(sse(json::parse(outcome.error->json())));
    stream->push(kSseDone);
    stream->close();
  });
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [stream, task](std::size_t, httplib::DataSink& sink) {
        auto [events, closed] = stream->take(std::chrono::milliseconds(1000));
        // An SSE comment while nothing happens (queued, prefilling): a gone client shows up as
        // a failed write, which cancels its job.
        if (events.empty() && !closed) events.push_back(": keep-alive\n\n");
        for (const auto& e : events) {
          if (!sink.write(e.data(), e.size())) {
            task->cancel(StopReason::kClientGone);
            return false;
          }
        }
        if (closed) sink.done();
        return true;
      },
      [task](bool success) {
        if (!success) task->cancel(StopReason::kClientGone);
      });
}

void Server::images(const Request& req, Response& res, bool edit) {
  ImagesRequest r;
  if (edit) {
    if (!req.is_multipart_form_data()) {
      throw ApiError(400, "an edit request is multipart/form-data (fields and image files)");
    }
    EditForm form;
    for (const auto& [name, part] : req.files) {
      if (name == "image" || name == "image[]") {
        form.images.emplace_back(part.filename, part.content);
      } else {
        form.fields.emplace(name, part.content);
      }
    }
    r = parse_image_edit(form, limits_);
  } else {
    r = parse_image_generation(req.body, limits_);
  }
  const std::uint64_t seed = r.seed_given ? r.seed : engine_.info().defaults.seed.value_or(0);
  engine_.check(r.job);
  auto outcome = std::make_shared<Outcome>();
  auto task = submit([this, r, seed, outcome](Task& task) {
    run_work(*outcome, [&] { return stop_error(task); }, [&] {
      std::vector<GenerationResult> results;
      for (std::int64_t i = 0; i < r.n; ++i) {
        Job job = r.job;
        job.options.seed = seed + static_cast<std::uint64_t>(i);  // image n: seed + n - 1
        results.push_back(engine_.generate_image(job, {}, task.token()));
        record(results.back());
      }
      outcome->body = images_response(std::time(nullptr), results).dump();
    });
  });
  wait_blocking(req, *task);
  if (outcome->error) throw *outcome->error;
  res.set_content(outcome->body, kJson);
}

bool Server::authorized(const Request& req, Response& res) {
  if (options_.api_key.empty() || req.path.rfind("/v1/", 0) != 0) return true;
  if (req.get_header_value("Authorization") == "Bearer " + options_.api_key) return true;
  res.status = 401;
  res.set_content(ApiError(401, req.has_header("Authorization")
                                    ? "incorrect API key"
                                    : "an API key is needed: Authorization: Bearer KEY",
                           "", "invalid_api_key")
                      .json(),
                  kJson);
  return false;
}

std::string endpoint_label(const std::string& path) {
  for (const char* known : {"/", "/health", "/metrics", "/v1/models", "/v1/chat/completions",
                            "/v1/images/generations", "/v1/images/edits"}) {
    if (path == known) return path;
  }
  return "other";
}

void Server::routes() {
  http_.set_payload_max_length(options_.max_body);
  // An idle kept-alive connection holds a handler thread for this long, and shutdown waits for
  // it: 1 s instead of cpp-httplib's 5 (clients reconnect transparently).
  http_.set_keep_alive_timeout(1);
  // Enough handler threads that every queued request and the idle connections of a few clients
  // are served; requests beyond the queue get their 429 at once.
  const std::size_t threads = options_.max_queue + 16;
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_.set_pre_routing_handler([this](const Request& req, Response& res) {
    request_start = Clock::now();
    return authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                : httplib::Server::HandlerResponse::Handled;
  });
  http_.set_error_handler([this](const Request& req, Response& res) {
    if (!res.body.empty()) return;
    std::string message = fmt::format("no such endpoint: {} {}", req.method, req.path);
    if (res.status == 413) {
      message = fmt::format("the request body is larger than this server's --max-body of {} "
                            "bytes",
                            options_.max_body);
    } else if (res.status != 404) {
      message = fmt::format("the request could not be read (HTTP {})", res.status);
    }
    res.set_content(ApiError(res.status, message).json(), kJson);
  });
  http_.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (...) {
      const ApiError e = current_error();
      res.status = e.status();
      res.set_content(e.json(), kJson);
    }
  });
  http_.set_logger([this](const Request& req, const Response& res) {
    const double seconds =
        request_start ? std::chrono::duration<double>(Clock::now() - *request_start).count() : 0;
    request_start.reset();
    metrics_.request_done(endpoint_label(req.path), res.status, seconds);
    spdlog::info("{} {} {} {:.3f} s", req.method, req.path, res.status, seconds);
  });

  http_.Get("/", [](const Request&, Response& res) {
    res.set_content(kIndexHtml, "text/html; charset=utf-8");
  });
  http_.Get("/health", [](const Request&, Response& res) {
    res.set_content(R"({"status":"ok"})", kJson);
  });
  http_.Get("/metrics", [this](const Request&, Response& res) {
    res.set_content(metrics_.prometheus(queue_.waiting(), queue_.busy()),
                    "text/plain; version=0.0.4");
  });
  http_.Get("/v1/models", [this](const Request&, Response& res) {
    const json model = {{"id", engine_.info().id},
                        {"object", "model"},
                        {"created", created_},
                        {"owned_by", "duogen"}};
    res.set_content(json{{"object", "list"}, {"data", json::array({model})}}.dump(), kJson);
  });
  http_.Post("/v1/chat/completions", [this](const Request& req, Response& res) {
    answer(res, [&] { chat(req, res); });
  });
  http_.Post("/v1/images/generations", [this](const Request& req, Response& res) {
    answer(res, [&] { images(req, res, /*edit=*/false); });
  });
  http_.Post("/v1/images/edits", [this](const Request& req, Response& res) {
    answer(res, [&] { images(req, res, /*edit=*/true); });
  });
}

void Server::run(std::stop_token shutdown,
                 const std::function<void(const std::string&)>& on_listening) {
  int port = options_.port;
  if (port == 0) {
    port = http_.bind_to_any_port(options_.host);
  } else if (!http_.bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw IoError(fmt::format("cannot listen on {}:{} (in use, or not an address of this "
                              "machine)",
                              options_.host, options_.port));
  }
  std::thread listener([this] { http_.listen_after_bind(); });
  on_listening(fmt::format("http://{}:{}", options_.host, port));
  {
    // The generations run here, on the thread that loaded the model: measured on this 2-core
    // machine, the tiny model's jobs took 1.6x as long on a thread created after the load
    // (ATen's OpenMP intra-op regions from a second thread; the same with the Engine API alone).
    const std::stop_callback on_stop(shutdown, [this] {
      spdlog::info("shutting down: cancelling {} queued request(s), letting the running one "
                   "finish within {} s",
                   queue_.waiting(), options_.shutdown_grace.count() / 1000.0);
      queue_.begin_shutdown(options_.shutdown_grace);
    });
    queue_.run_worker();  // until shutdown, with the running job finished
  }
  http_.stop();
  listener.join();
  queue_.shutdown(std::chrono::milliseconds(0));
}

}  // namespace

void serve(Engine& engine, const ServerOptions& options, std::stop_token shutdown,
           const std::function<void(const std::string& url)>& on_listening) {
  Server server(engine, options);
  server.run(shutdown, on_listening);
}

}  // namespace duogen::server
