// One model on one device: requests become tasks run one at a time, in arrival order, by a
// single worker thread: the queue's own, or the caller's (run_worker; the server runs the model
// on the thread that loaded it, see server.cpp). At most `max_waiting` tasks wait (submit throws QueueFull beyond); each
// task has a deadline after which a watchdog cancels it, and shutdown cancels what waits and
// gives the running task a grace period.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace duogen::server {

using Clock = std::chrono::steady_clock;

enum class StopReason { kNone, kClientGone, kTimeout, kShutdown };

class Task {
 public:
  Task(std::function<void(Task&)> work, Clock::time_point deadline)
      : work_(std::move(work)), deadline_(deadline) {}
  std::stop_token token() const { return stop_.get_token(); }
  // Stops the task (waiting or running) for `reason`; the first reason given is kept.
  void cancel(StopReason reason);
  StopReason reason() const { return reason_.load(); }
  bool finished() const;
  // Waits until the worker is done with the task (its work ran or it was skipped).
  void wait() const;
  bool wait_for(std::chrono::milliseconds timeout) const;

 private:
  friend class JobQueue;
  std::function<void(Task&)> work_;
  Clock::time_point deadline_;
  std::stop_source stop_;
  std::atomic<StopReason> reason_{StopReason::kNone};
  mutable std::mutex mutex_;
  mutable std::condition_variable done_cv_;
  bool done_ = false;
};

struct QueueFull {};
struct ShuttingDown {};

class JobQueue {
 public:
  enum class Worker { kOwnThread, kCaller };
  explicit JobQueue(std::size_t max_waiting, Worker worker = Worker::kOwnThread);
  ~JobQueue();  // shutdown(0 s) if not yet shut down

  // Worker::kCaller: runs the tasks on the calling thread until the queue is shutting down and
  // has nothing left to run.
  void run_worker();

  // Queues `work`; it runs on the worker, given its task, whose token() is stopped by cancel(),
  // the deadline or shutdown (reason() says which). A task cancelled before it starts still runs,
  // with its token already stopped, so that its work can answer the client. Throws QueueFull or
  // ShuttingDown.
  std::shared_ptr<Task> submit(std::function<void(Task&)> work,
                               Clock::time_point deadline);

  // Refuses new tasks, cancels the waiting ones (their work runs at once, on this thread, with
  // the token stopped) and lets the running one go on for `grace`, after which the watchdog
  // cancels it; returns at once. A waiting task past its deadline is likewise run at once, from
  // the watchdog, stopped.
  void begin_shutdown(std::chrono::milliseconds grace);
  // begin_shutdown, then waits until the running task has finished and the worker has stopped.
  void shutdown(std::chrono::milliseconds grace);

  std::size_t waiting() const;
  bool busy() const;  // a task is running

 private:
  void work_loop();
  // Runs a task's work and marks it done (on the worker, or at once for one dropped unstarted).
  static void finish(const std::shared_ptr<Task>& task);
  std::vector<std::shared_ptr<Task>> take_waiting_locked(
      const std::function<bool(const Task&)>& pred);
  void watch_loop(std::stop_token stop);

  const std::size_t max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable_any ready_;
  std::deque<std::shared_ptr<Task>> waiting_;
  std::shared_ptr<Task> running_;
  bool shutting_down_ = false;
  bool worker_running_ = false;
  Clock::time_point grace_end_ = Clock::time_point::max();
  std::jthread worker_;
  std::jthread watchdog_;
};

}  // namespace duogen::server
