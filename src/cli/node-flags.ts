// V8 heap limits for the processor: without them V8 lets the heap of a busy consumer grow to
// ~470 MB RSS before collecting; with them the processor peaks near 240 MB at the same throughput
// (bench/results). The ./tickflow launcher passes the same flags (a test keeps the two equal).
export const PROCESSOR_NODE_FLAGS = ['--max-old-space-size=192', '--max-semi-space-size=8']
