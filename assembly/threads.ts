// Threads (src/threads.ts): several instances of this module share one memory, one per thread.
// Globals are per instance, but memory.data blocks are shared, so each kernel's scratch block
// has one copy per thread slot and every instance points at its own (setThreadSlot in index.ts).

/** The most threads (slots) an instance can be told to use: the pool's cap. */
export const MAX_THREADS: i32 = 8;
