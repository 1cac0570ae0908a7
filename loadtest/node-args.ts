/** Node flags for a process the harness starts and measures (Ferry, a floor), from FERRY_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"). */
export function benchNodeArgs(): string[] {
  return (process.env.FERRY_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
}
