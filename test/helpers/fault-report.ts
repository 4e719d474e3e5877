/**
 * With DPKG_FAULT_REPORT=1, fault tests print one JSON line of what they measured (bytes sent
 * before and after a kill, rows staged, outcomes per fault mode), for docs/reliability.md.
 */
export function reportMeasured(test: string, measured: Record<string, unknown>): void {
  if (process.env.DPKG_FAULT_REPORT) console.log(JSON.stringify({ test, ...measured }));
}
