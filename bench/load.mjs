// Machine load while a contender runs: CPU time that other processes used, in cores.
//
// /proc/stat's first line counts every core's busy time (user, nice, system, irq, softirq, steal;
// not idle or iowait) in clock ticks (USER_HZ, 100 per second on Linux). Read before and after a
// timed call, minus this process's own CPU time over the same window (process.cpuUsage(): every
// thread of this process, microseconds), divided by the window's wall time, it gives how many
// cores the rest of the machine kept busy meanwhile. One call's window is a few ticks at most, so
// the figure is summed over all of a contender's timed calls: the tick sampling averages out to
// about +-0.05 cores over a 1.5 s budget. PyTorch, in its own process, measures itself the same way
// (bench/torch_bench.py, from /proc/self/stat). Elsewhere than Linux the load is unknown (null).

import fs from 'node:fs';

/** Above this many cores used by other processes during a contender, its result is marked. */
export const LOAD_LIMIT = 0.2;
const TICK_MS = 10; // USER_HZ = 100: the kernel's fixed unit for /proc/stat, whatever CONFIG_HZ is

/** Busy milliseconds of all cores since boot, or null without /proc/stat. */
function busyMs() {
  try {
    const f = fs.readFileSync('/proc/stat', 'latin1');
    const v = f.slice(0, f.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] || 0)) * TICK_MS;
  } catch {
    return null;
  }
}

const ownMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Accumulates the windows of one contender; `otherCores()` is its figure. */
export class LoadMeter {
  wallMs = 0;
  busyMs = 0;
  ownMs = 0;
  known = true;

  /** A snapshot to hand back to stop() after the measured work. */
  start() {
    return { t: performance.now(), busy: busyMs(), own: ownMs() };
  }

  stop(s) {
    const busy = busyMs();
    const own = ownMs();
    const t = performance.now();
    if (busy === null || s.busy === null) this.known = false;
    else {
      this.busyMs += busy - s.busy;
      this.ownMs += own - s.own;
      this.wallMs += t - s.t;
    }
  }

  /** Cores used by other processes during the measured windows (>= 0), or null when unknown. */
  otherCores() {
    if (!this.known || this.wallMs <= 0) return null;
    return Math.max(0, (this.busyMs - this.ownMs) / this.wallMs);
  }
}

/** The load fields every timed result carries: `otherLoad` (cores) and `loaded` (above the limit). */
export function loadFields(cores) {
  return { otherLoad: cores === null || cores === undefined ? null : Math.round(cores * 1000) / 1000, loaded: cores !== null && cores !== undefined && cores > LOAD_LIMIT };
}
