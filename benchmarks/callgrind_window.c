/* What bench_*_instructions.py's counted processes call through ctypes (profiling.counted_window): callgrind's
 * client requests, so that a process started with --instr-atstart=no counts only the block it means to measure.
 * Why: a whole process's count moves by millions of instructions between identical runs (imports, start-up), more
 * than what some benchmarks measure; outside the window valgrind runs without instrumentation, ~10x faster. */
#include <valgrind/callgrind.h>

void tapeflow_callgrind_start(void) {
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
}

void tapeflow_callgrind_stop(void) {
    CALLGRIND_STOP_INSTRUMENTATION;
}
