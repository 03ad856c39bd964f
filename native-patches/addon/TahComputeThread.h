#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

// The process's one thread for TaH's graph computations. Node runs async work on any of libuv's pool threads, and
// llama.cpp's CPU backend uses OpenMP, which gives each thread that starts a parallel region a team of its own: with
// steps landing on four pool threads, a small machine soon has more OpenMP threads than cores, libgomp then stops
// spinning between operations, and every barrier waits for a sleeping thread (0.6B shape, 2 cores, 2 threads: 47 ms
// per decoded token, 34 from one thread; node-llama-cpp's prebuilt build, without OpenMP, 34). A pool thread hands its
// work here and waits for it; the engine runs one step at a time anyway.
class TahComputeThread {
    public:
        // Runs `work` on the compute thread and returns once it is done; an exception `work` throws is rethrown here.
        static void run(const std::function<void()> & work) {
            // never destroyed: the thread lives as long as the process, and no exit path waits for it
            static TahComputeThread * instance = new TahComputeThread();
            instance->enqueue(work);
        }

    private:
        TahComputeThread() {
            std::thread([this] { loop(); }).detach();
        }

        void enqueue(const std::function<void()> & work) {
            std::packaged_task<void()> task(work);
            std::future<void> done = task.get_future();
            {
                std::lock_guard<std::mutex> lock(mutex);
                queue.push_back(std::move(task));
            }
            wake.notify_one();
            done.get();
        }

        void loop() {
            for (;;) {
                std::packaged_task<void()> task;
                {
                    std::unique_lock<std::mutex> lock(mutex);
                    wake.wait(lock, [this] { return !queue.empty(); });
                    task = std::move(queue.front());
                    queue.pop_front();
                }
                task();
            }
        }

        std::mutex mutex;
        std::condition_variable wake;
        std::deque<std::packaged_task<void()>> queue;
};
