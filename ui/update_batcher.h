// SPDX-License-Identifier: GPL-3.0-or-later
// Coalesces a worker thread's updates for the GUI thread (PlotJuggler's pattern), for
// JobController and BackgroundTask: the worker appends to a pending Batch under a mutex; the first
// append after a hand-over posts one queued request, which starts a single-shot timer on the GUI
// thread; when the timer fires, the GUI thread takes the whole batch and hands it to `deliver`.
// A flood of appends becomes at most one delivery per interval (40 ms: 25 Hz), so a flood of
// records or progress ticks never becomes a flood of signals and replots.
// Construct and use it on the GUI thread; only append() may be called from any thread. Its owner
// stops the worker before destroying it.
#pragma once
#include <QMutex>
#include <QMutexLocker>
#include <QTimer>
#include <atomic>
#include <functional>
#include <utility>

namespace duo::ui {

inline constexpr int kUpdateIntervalMs = 40;  // at most 25 deliveries a second

// The part that does not depend on the batch: the single-shot timer and the request flag.
class FlushSchedule {
 public:
  FlushSchedule(int intervalMs, std::function<void()> onTimeout);
  FlushSchedule(const FlushSchedule&) = delete;
  FlushSchedule& operator=(const FlushSchedule&) = delete;

  void request();  // any thread: only the first request after taken() posts an event
  void taken();    // GUI thread, just before the batch is taken: the next request posts again
  void stop();     // GUI thread: no timeout until the next request
  int intervalMs() const { return m_timer.interval(); }

 private:
  QTimer m_timer;  // lives on the GUI thread; the queued requests run there
  std::atomic<bool> m_requested{false};
};

template <typename Batch>
class UpdateBatcher {
 public:
  using Deliver = std::function<void(Batch&& batch)>;

  explicit UpdateBatcher(Deliver deliver, int intervalMs = kUpdateIntervalMs)
      : m_schedule(intervalMs, [this] { flush(); }), m_deliver(std::move(deliver)) {}

  // Any thread: `add(Batch&)` updates the pending batch under the lock (append a record, replace
  // the latest progress), then a delivery is scheduled.
  template <typename Add>
  void append(Add&& add) {
    {
      QMutexLocker lock(&m_mutex);
      std::forward<Add>(add)(m_pending);
      m_dirty = true;
    }
    m_schedule.request();
  }

  // GUI thread: delivers what is pending now (nothing when nothing was appended since the last
  // delivery). The timer calls it; an owner calls it once more after its worker has ended.
  void flush() {
    m_schedule.taken();  // before taking: an append racing with us schedules the next delivery
    Batch batch{};
    {
      QMutexLocker lock(&m_mutex);
      if (!m_dirty) return;
      m_dirty = false;
      std::swap(batch, m_pending);
    }
    m_deliver(std::move(batch));
  }

  // GUI thread: the worker has ended, deliver the rest at once.
  void finish() {
    m_schedule.stop();
    flush();
  }

  // GUI thread, before a new worker starts: drops whatever is pending.
  void clear() {
    m_schedule.stop();
    m_schedule.taken();
    QMutexLocker lock(&m_mutex);
    m_pending = Batch{};
    m_dirty = false;
  }

  int intervalMs() const { return m_schedule.intervalMs(); }

 private:
  FlushSchedule m_schedule;
  Deliver m_deliver;
  QMutex m_mutex;  // guards the two below
  Batch m_pending{};
  bool m_dirty = false;  // something was appended since the last delivery
};

}  // namespace duo::ui
