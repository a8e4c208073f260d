#include "job_queue.h"

#include <spdlog/spdlog.h>

namespace duogen::server {

void Task::cancel(StopReason reason) {
  StopReason none = StopReason::kNone;
  reason_.compare_exchange_strong(none, reason);
  stop_.request_stop();
}

bool Task::finished() const {
  const std::lock_guard lock(mutex_);
  return done_;
}

void Task::wait() const {
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [this] { return done_; });
}

bool Task::wait_for(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return done_cv_.wait_for(lock, timeout, [this] { return done_; });
}

JobQueue::JobQueue(std::size_t max_waiting, Worker worker)
    : max_waiting_(max_waiting), watchdog_([this](std::stop_token stop) { watch_loop(stop); }) {
  if (worker == Worker::kOwnThread) {
    worker_running_ = true;
    worker_ = std::jthread([this] { work_loop(); });
  }
}

void JobQueue::run_worker() {
  {
    const std::lock_guard lock(mutex_);
    worker_running_ = true;
  }
  work_loop();
}

JobQueue::~JobQueue() { shutdown(std::chrono::milliseconds(0)); }

std::shared_ptr<Task> JobQueue::submit(std::function<void(Task&)> work,
                                       Clock::time_point deadline) {
  auto task = std::make_shared<Task>(std::move(work), deadline);
  {
    const std::lock_guard lock(mutex_);
    if (shutting_down_) throw ShuttingDown{};
    if (waiting_.size() >= max_waiting_) throw QueueFull{};
    waiting_.push_back(task);
  }
  ready_.notify_all();
  return task;
}

void JobQueue::work_loop() {
  for (;;) {
    std::shared_ptr<Task> task;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return !waiting_.empty() || shutting_down_; });
      if (waiting_.empty()) {  // shutting down, nothing left
        worker_running_ = false;
        ready_.notify_all();
        return;
      }
      task = waiting_.front();
      waiting_.pop_front();
      running_ = task;
    }
    finish(task);
    {
      const std::lock_guard lock(mutex_);
      running_.reset();
    }
    ready_.notify_all();
  }
}

void JobQueue::finish(const std::shared_ptr<Task>& task) {
  try {
    task->work_(*task);
  } catch (const std::exception& e) {
    // Work answers its own client; anything escaping it is a bug, logged, not fatal.
    spdlog::error("server task failed: {}", e.what());
  }
  {
    const std::lock_guard lock(task->mutex_);
    task->done_ = true;
  }
  task->done_cv_.notify_all();
}

std::vector<std::shared_ptr<Task>> JobQueue::take_waiting_locked(
    const std::function<bool(const Task&)>& pred) {
  std::vector<std::shared_ptr<Task>> taken;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (pred(**it)) {
      taken.push_back(*it);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

void JobQueue::watch_loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::vector<std::shared_ptr<Task>> expired;
    {
      const std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      expired = take_waiting_locked([now](const Task& t) { return now >= t.deadline_; });
      if (running_) {
        if (now >= running_->deadline_) running_->cancel(StopReason::kTimeout);
        if (now >= grace_end_) running_->cancel(StopReason::kShutdown);
      }
    }
    // A task that times out while it waits is answered now, not after the running one: its work
    // runs here with its token stopped (the Engine refuses a stopped token before its lock).
    for (const auto& task : expired) {
      task->cancel(StopReason::kTimeout);
      finish(task);
    }
    if (!expired.empty()) ready_.notify_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void JobQueue::begin_shutdown(std::chrono::milliseconds grace) {
  std::vector<std::shared_ptr<Task>> cancelled;
  {
    const std::lock_guard lock(mutex_);
    if (shutting_down_) return;
    shutting_down_ = true;
    grace_end_ = Clock::now() + grace;
    cancelled = take_waiting_locked([](const Task&) { return true; });
  }
  // The waiting ones are answered at once (503), while the running one has its grace.
  for (const auto& task : cancelled) {
    task->cancel(StopReason::kShutdown);
    finish(task);
  }
  ready_.notify_all();
}

void JobQueue::shutdown(std::chrono::milliseconds grace) {
  begin_shutdown(grace);
  {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return !running_ && !worker_running_; });
  }
  if (worker_.joinable()) worker_.join();
  watchdog_.request_stop();
  if (watchdog_.joinable()) watchdog_.join();
}

std::size_t JobQueue::waiting() const {
  const std::lock_guard lock(mutex_);
  return waiting_.size();
}

bool JobQueue::busy() const {
  const std::lock_guard lock(mutex_);
  return running_ != nullptr;
}

}  // namespace duogen::server
