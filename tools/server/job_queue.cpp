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

JobQueue::JobQueue(std::size_t max_waiting)
    : max_waiting_(max_waiting),
      worker_([this](std::stop_token stop) { work_loop(stop); }),
      watchdog_([this](std::stop_token stop) { watch_loop(stop); }) {}

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

void JobQueue::work_loop(std::stop_token stop) {
  for (;;) {
    std::shared_ptr<Task> task;
    {
      std::unique_lock lock(mutex_);
      if (!ready_.wait(lock, stop, [this] { return !waiting_.empty(); })) return;
      task = waiting_.front();
      waiting_.pop_front();
      running_ = task;
    }
    try {
      task->work_(*task);
    } catch (const std::exception& e) {
      // Work answers its own client; anything escaping it is a bug, logged, not fatal.
      spdlog::error("server task failed: {}", e.what());
    }
    {
      const std::lock_guard lock(mutex_);
      running_.reset();
    }
    {
      const std::lock_guard lock(task->mutex_);
      task->done_ = true;
    }
    task->done_cv_.notify_all();
    ready_.notify_all();
  }
}

void JobQueue::watch_loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      const std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      for (const auto& task : waiting_) {
        if (now >= task->deadline_) task->cancel(StopReason::kTimeout);
      }
      if (running_) {
        if (now >= running_->deadline_) running_->cancel(StopReason::kTimeout);
        if (now >= grace_end_) running_->cancel(StopReason::kShutdown);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void JobQueue::shutdown(std::chrono::milliseconds grace) {
  {
    const std::lock_guard lock(mutex_);
    if (!shutting_down_) {
      shutting_down_ = true;
      grace_end_ = Clock::now() + grace;
      for (const auto& task : waiting_) task->cancel(StopReason::kShutdown);
    }
  }
  // Wait for the worker to drain (cancelled tasks run quickly: their token is stopped).
  {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return waiting_.empty() && !running_; });
  }
  worker_.request_stop();
  ready_.notify_all();
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
