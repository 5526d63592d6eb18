/**
 * BERTH_TRACE=1 prints where a command's time goes: milliseconds since the process started, per step.
 * Off by default and free when off (one env read).
 */
const on = !!process.env.BERTH_TRACE;

export function mark(step: string): void {
  // process.uptime() counts from the start of the process, before Node's own bootstrap.
  if (on) process.stderr.write(`[trace] ${(process.uptime() * 1000).toFixed(1).padStart(7)} ms ${step}\n`);
}
