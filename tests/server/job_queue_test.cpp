// The server's queue: arrival order, one at a time, 429 beyond the bound, deadlines and shutdown
// stopping tasks with the reason they were stopped for.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "job_queue.h"

namespace duogen::server {
namespace {

using namespace std::chrono_literals;

// Work that runs until its token stops (or `release` is set).
auto blocking_work(std::atomic<bool>& started, std::atomic<bool>& release) {
  return [&](Task& task) {
    started = true;
    while (!task.token().stop_requested() && !release.load()) std::this_thread::sleep_for(1ms);
  };
}

TEST(JobQueue, RunsInOrderOneAtATime) {
  JobQueue queue(8);
  std::mutex m;
  std::vector<int> order;
  std::atomic<int> running{0}, most{0};
  std::vector<std::shared_ptr<Task>> tasks;
  for (int i = 0; i < 5; ++i) {
    tasks.push_back(queue.submit(
        [&, i](Task&) {
          most = std::max(most.load(), ++running);
          std::this_thread::sleep_for(2ms);
          {
            const std::lock_guard lock(m);
            order.push_back(i);
          }
          --running;
        },
        Clock::now() + 10s));
  }
  for (auto& t : tasks) t->wait();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(most.load(), 1);
}

TEST(JobQueue, FullQueueRefusesAndTimeoutsCancel) {
  JobQueue queue(1);
  std::atomic<bool> started{false}, release{false};
  auto running = queue.submit(blocking_work(started, release), Clock::now() + 10s);
  while (!started) std::this_thread::sleep_for(1ms);
  std::atomic<bool> second_stopped{false};
  auto waiting = queue.submit(
      [&](Task& task) { second_stopped = task.token().stop_requested(); }, Clock::now() + 50ms);
  EXPECT_THROW(queue.submit([](Task&) {}, Clock::now() + 10s), QueueFull);
  EXPECT_EQ(queue.waiting(), 1u);
  EXPECT_TRUE(queue.busy());
  // The waiting task passes its deadline while the first still runs: it is cancelled for it.
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(waiting->reason(), StopReason::kTimeout);
  EXPECT_TRUE(waiting->finished());  // answered at once, not after the running task
  EXPECT_TRUE(second_stopped.load());
  EXPECT_FALSE(running->finished());
  running->cancel(StopReason::kClientGone);
  running->wait();
  waiting->wait();
  EXPECT_EQ(running->reason(), StopReason::kClientGone);
  EXPECT_TRUE(second_stopped.load());  // it still ran, to answer its client, already stopped
}

TEST(JobQueue, ShutdownCancelsWaitingAndGivesTheRunningOneItsGrace) {
  JobQueue queue(4);
  std::atomic<bool> started{false}, release{false};
  auto running = queue.submit(blocking_work(started, release), Clock::now() + 10s);
  while (!started) std::this_thread::sleep_for(1ms);
  auto waiting = queue.submit([](Task&) {}, Clock::now() + 10s);
  const auto t0 = Clock::now();
  std::thread stopper([&] { queue.shutdown(300ms); });
  // The waiting task is answered at once; the running one goes on until its grace ends.
  EXPECT_TRUE(waiting->wait_for(200ms));
  EXPECT_FALSE(running->finished());
  stopper.join();
  EXPECT_GE(Clock::now() - t0, 300ms);
  EXPECT_EQ(running->reason(), StopReason::kShutdown);
  EXPECT_EQ(waiting->reason(), StopReason::kShutdown);
  EXPECT_TRUE(running->finished());
  EXPECT_TRUE(waiting->finished());
  EXPECT_THROW(queue.submit([](Task&) {}, Clock::now() + 10s), ShuttingDown);
}

TEST(JobQueue, ARunningTaskThatFinishesInItsGraceIsNotCancelled) {
  JobQueue queue(4);
  std::atomic<bool> started{false}, release{false};
  auto running = queue.submit(blocking_work(started, release), Clock::now() + 10s);
  while (!started) std::this_thread::sleep_for(1ms);
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    release = true;
  });
  queue.shutdown(5s);
  releaser.join();
  EXPECT_EQ(running->reason(), StopReason::kNone);
}

TEST(JobQueue, TheCallersThreadCanBeTheWorker) {
  JobQueue queue(4, JobQueue::Worker::kCaller);
  std::thread::id ran_on;
  auto task = queue.submit([&](Task&) { ran_on = std::this_thread::get_id(); }, Clock::now() + 10s);
  std::thread stopper([&] {
    task->wait();
    queue.begin_shutdown(0ms);
  });
  queue.run_worker();  // returns once shut down with nothing left
  stopper.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_THROW(queue.submit([](Task&) {}, Clock::now() + 10s), ShuttingDown);
}

}  // namespace
}  // namespace duogen::server
