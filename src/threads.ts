// Threads: a pool of workers that run kernels on the module's own memory, shared with them.
//
// Each worker instantiates the same module (the same bytes, so the same kernels bit for bit) over
// one shared WebAssembly.Memory and waits on a mailbox of its own (a small SharedArrayBuffer). A
// call that streams several chunks (src/stream.ts) copies each chunk in on the calling thread,
// hands the chunk's wasm calls to a worker, and takes its results back in chunk order. The chunks
// are the ones a single thread uses (they depend only on the shapes), and their totals are added
// in the same order, so results are bit-identical for every thread count. The calling thread
// computes a share itself and waits for the rest: Atomics.wait where it may block (Node, workers),
// a spin on Atomics.load on a browser's main thread (where Atomics.wait throws).
//
// Where threads cannot run (edge runtimes, pages that are not cross-origin isolated, a module given
// as a compiled WebAssembly.Module) setThreads resolves to 1 and warns once, saying why.

import { fail } from './errors.js';
import type { WasmMemory, WasmModule } from './types.js';
import { DEPTH } from './workspace.js';

/** One wasm call of a chunk's job: the export's name and its arguments. */
export interface JobCall {
  name: string;
  args: number[];
}

/** What a job gives back: the sum of its calls' return values and, if asked, an export read after
 *  them (crossEntropy's z-loss squares, binaryCrossEntropy's range check). */
export interface JobResult {
  total: number;
  side: number;
}

// Mailbox: Int32 control words, then DEPTH job slots (f64s), then DEPTH result slots (f64s). Jobs
// are numbered 1, 2, ... and job seq uses slot seq % DEPTH: a worker can have DEPTH jobs queued,
// so it starts the next as soon as it finishes one while the caller copies chunks in and out.
const POSTED = 0; // sequence number of the last job posted
const TAKEN = 1; // sequence number of the last job taken (by the worker, or back by the caller)
const DONE = 2; // sequence number of the last job the worker finished (or skipped: taken back)
const STOP = 3; // 1: leave the loop
const STATUS = 4; // per slot (4, 5): 0: the job ran, 1: it threw
const RAN = 4 + DEPTH; // jobs the worker ran itself (not taken back): for tests
// Who sleeps (Atomics.wait) now, so the other side calls Atomics.notify only then: a notify that
// wakes a sleeper cost the notifier ~340 us on this 2-vCPU VM (profiled: W1 on 2 threads spent a
// quarter of its time in it), while a store the other side sees while spinning costs nothing.
const ASLEEP = 5 + DEPTH; // 1 while the worker sleeps on POSTED
const WAITING = 6 + DEPTH; // 1 while the caller sleeps on DONE
const JOB_OFFSET = 64;
const JOB_DOUBLES = 1024;
const RESULT_OFFSET = JOB_OFFSET + DEPTH * JOB_DOUBLES * 8;
const MAILBOX_BYTES = RESULT_OFFSET + DEPTH * 2 * 8;
/** A job not taken by its worker after this long is taken back by the caller (a worker that died
 *  or is descheduled must not hold the call up). */
const STEAL_MS = 250;
/** How long a thread that runs out of work polls before it sleeps on Atomics.wait. */
const SPIN_MS = 1;
/** A job taken but not finished after this long means its worker died mid-job: the call throws. */
const HANG_MS = 30000;

// The worker's whole program, as a string: the same code runs as a Node worker_threads worker and
// as a browser Web Worker (from a Blob URL), so no file has to be found or bundled.
const WORKER_SOURCE = `
const node = typeof self === 'undefined';
const port = node ? process.getBuiltinModule('node:worker_threads').parentPort : self;
const start = (m) => {
  const ex = new WebAssembly.Instance(m.module, { env: { memory: m.memory } }).exports;
  ex.setThreadSlot(m.slot);
  const fns = m.names.map((n) => ex[n]);
  const ctrl = new Int32Array(m.mailbox, 0, 16);
  port.postMessage('ready');
  let seen = 0;
  for (;;) {
    // Spin a little before sleeping: waking a sleeping thread costs tens to hundreds of
    // microseconds (more on a virtual machine's idle core), as long as a small job takes.
    for (const until = performance.now() + ${SPIN_MS}; Atomics.load(ctrl, ${POSTED}) === seen && performance.now() < until;);
    Atomics.store(ctrl, ${ASLEEP}, 1);
    Atomics.wait(ctrl, ${POSTED}, seen); // returns at once if a job was posted since the spin
    Atomics.store(ctrl, ${ASLEEP}, 0);
    if (Atomics.load(ctrl, ${STOP})) return;
    for (const posted = Atomics.load(ctrl, ${POSTED}); seen < posted;) {
      const seq = ++seen, slot = seq % ${DEPTH};
      if (Atomics.compareExchange(ctrl, ${TAKEN}, seq - 1, seq) === seq - 1) { // else taken back
        const job = new Float64Array(m.mailbox, ${JOB_OFFSET} + slot * ${JOB_DOUBLES * 8}, ${JOB_DOUBLES});
        const res = new Float64Array(m.mailbox, ${RESULT_OFFSET} + slot * 16, 2);
        try {
          let total = 0, any = false, p = 1;
          for (let c = 0, n = job[0]; c < n; c++) {
            const f = fns[job[p]], k = job[p + 1];
            const r = f.apply(null, Array.from(job.subarray(p + 2, p + 2 + k)));
            if (typeof r === 'number') total = any ? total + r : r, any = true;
            p += 2 + k;
          }
          res[0] = total;
          res[1] = job[p] ? fns[job[p] - 1]() : 0; // the side export, 1-based
          Atomics.store(ctrl, ${STATUS} + slot, 0);
          Atomics.add(ctrl, ${RAN}, 1);
        } catch (e) {
          Atomics.store(ctrl, ${STATUS} + slot, 1);
        }
      }
      Atomics.store(ctrl, ${DONE}, seq);
      if (Atomics.load(ctrl, ${WAITING})) Atomics.notify(ctrl, ${DONE});
    }
  }
};
if (node) port.once('message', start); else self.onmessage = (e) => { self.onmessage = null; start(e.data); };
`;

interface WorkerLike {
  postMessage(message: unknown): void;
  terminate(): unknown;
}

/** One worker and its mailbox. */
class Thread {
  readonly ctrl: Int32Array;
  readonly jobs: Float64Array[];
  readonly results: Float64Array[];
  /** The last job posted. */
  seq = 0;
  dead = false;
  /** A job the caller took back because this worker had not taken it (0: none): until the worker
   *  catches up past it (it marks a job taken back as done when it gets to it), it gets no more
   *  jobs, so a worker that died unseen costs a call one wait of STEAL_MS, not one per job. */
  stalled = 0;
  constructor(readonly worker: WorkerLike, readonly mailbox: SharedArrayBuffer) {
    this.ctrl = new Int32Array(mailbox, 0, 16);
    this.jobs = Array.from({ length: DEPTH }, (_, k) => new Float64Array(mailbox, JOB_OFFSET + k * JOB_DOUBLES * 8, JOB_DOUBLES));
    this.results = Array.from({ length: DEPTH }, (_, k) => new Float64Array(mailbox, RESULT_OFFSET + k * 16, 2));
  }
}

/** What the pool needs of the module: its compiled shared-memory form and memory, and the host
 *  instance's exports (which run the caller's share). */
export interface PoolModule {
  /** (Typed through types.ts, so that declarations compile without the DOM lib.) */
  module: WasmModule;
  memory: WasmMemory;
  exports: Record<string, unknown>;
}

export class Pool {
  private readonly threads: (Thread | undefined)[] = [];
  /** Workers wanted (threads in use minus the caller). */
  private target = 0;
  /** Slots whose worker is starting, with the promise of its start. */
  private readonly starting = new Map<number, Promise<void>>();
  private readonly names: string[];
  private readonly index = new Map<string, number>();
  /** Whether Atomics.wait may block this thread (not on a browser's main thread). */
  private readonly canBlock: boolean;

  /** HANG_MS, for this pool (tests shorten it to see the path run). */
  hangMs = HANG_MS;
  /** Whether forkJoin and a stream's last chunks run here, once this thread has nothing else to
   *  do, the jobs no worker has taken yet (claim). Tests turn it off where they check that
   *  every worker ran a share. */
  takeUntaken = true;

  constructor(private readonly host: PoolModule) {
    this.names = WebAssembly.Module.exports(host.module as WebAssembly.Module).filter((e) => e.kind === 'function').map((e) => e.name);
    this.names.forEach((n, i) => this.index.set(n, i));
    let canBlock = true;
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    } catch {
      canBlock = false;
    }
    this.canBlock = canBlock;
  }

  /** Threads in use, the caller's included. */
  get size(): number {
    return this.target + 1;
  }

  /** Starts or stops workers until `n` threads (the caller's included) are in use. A slot whose
   *  worker died is being refilled (`starting`); calls meanwhile compute its share themselves. */
  async resize(n: number): Promise<void> {
    this.target = n - 1;
    while (this.threads.length > this.target) {
      const t = this.threads.pop();
      if (t) this.stop(t);
    }
    for (let slot = 1; slot <= this.target; slot++) {
      if (!this.alive(slot - 1) && !this.starting.has(slot)) this.spawn(slot);
    }
    await Promise.all([...this.starting].filter(([slot]) => slot <= this.target).map(([, p]) => p));
  }

  /** Stops every worker (and any still starting, as they become ready). */
  close(): void {
    void this.resize(1);
  }

  private stop(t: Thread): void {
    t.dead = true;
    Atomics.store(t.ctrl, STOP, 1);
    Atomics.add(t.ctrl, POSTED, 1);
    Atomics.notify(t.ctrl, POSTED);
    void t.worker.terminate();
  }

  /** Starts a worker for thread slot `slot` (1..MAX_THREADS - 1): placed at threads[slot - 1] once
   *  ready, if the pool still wants that slot filled; else stopped at once. */
  private spawn(slot: number): Promise<void> {
    const mailbox = new SharedArrayBuffer(MAILBOX_BYTES);
    const started = new Promise<void>((resolve, reject) => {
      let ready = false;
      const worker = newWorker(
        (message) => {
          if (message !== 'ready') return;
          ready = true;
          if (slot > this.target || this.alive(slot - 1)) this.stop(thread);
          else this.threads[slot - 1] = thread;
          (worker as Partial<NodeWorker>).unref?.(); // ready and idle: never keeps a process alive
          resolve();
        },
        (error) => {
          thread.dead = true;
          reject(error);
        },
        () => (ready ? this.replace(thread, slot) : reject(new Error('a worker exited before it was ready'))),
      );
      const thread = new Thread(worker, mailbox);
      worker.postMessage({ module: this.host.module, memory: this.host.memory, mailbox, slot, names: this.names });
    });
    const tracked = started.finally(() => this.starting.delete(slot));
    this.starting.set(slot, tracked);
    return tracked;
  }

  /** A worker that exited on its own (crashed, or terminated from outside): mark it dead, so calls
   *  compute its share themselves, and start another in its place. */
  private replace(thread: Thread, slot: number): void {
    if (this.threads[slot - 1] !== thread || thread.dead) return;
    thread.dead = true;
    if (slot <= this.target && !this.starting.has(slot)) {
      this.spawn(slot).catch(() => {
        /* the dead thread's share keeps running on the caller */
      });
    }
  }

  /** Jobs each worker has run itself (not taken back by the caller). */
  get jobsRun(): number[] {
    return this.threads.map((t) => (t ? Atomics.load(t.ctrl, RAN) : 0));
  }

  /** Whether worker w is there to take jobs. */
  alive(w: number): boolean {
    return !!this.threads[w] && !this.threads[w]!.dead;
  }

  /** Whether worker w is to be given jobs now: alive, and not behind a job taken back from it. */
  usable(w: number): boolean {
    const t = this.threads[w];
    return this.alive(w) && (t!.stalled === 0 || Atomics.load(t!.ctrl, DONE) >= t!.stalled);
  }

  /** Worker w, which has jobs posted (so it exists). */
  private thread(w: number): Thread {
    return this.threads[w]!;
  }

  /** The sequence number worker w's next job will get (it picks the job's slot and block set). */
  nextSeq(w: number): number {
    return this.thread(w).seq + 1;
  }

  /** Posts a job to worker w (0-based; fewer than DEPTH of its jobs unfinished), or returns false
   *  when that worker is gone or the job is too long to post. */
  post(w: number, calls: JobCall[], side: string | null): boolean {
    const t = this.threads[w];
    if (!t || t.dead) return false;
    const job = t.jobs[(t.seq + 1) % DEPTH];
    let p = 1;
    job[0] = calls.length;
    for (const c of calls) {
      if (p + 3 + c.args.length >= JOB_DOUBLES) return false; // too long to post: run it here
      job[p] = this.index.get(c.name)!;
      job[p + 1] = c.args.length;
      job.set(c.args, p + 2);
      p += 2 + c.args.length;
    }
    job[p] = side ? this.index.get(side)! + 1 : 0;
    t.seq++;
    Atomics.store(t.ctrl, POSTED, t.seq);
    if (Atomics.load(t.ctrl, ASLEEP)) Atomics.notify(t.ctrl, POSTED);
    return true;
  }

  /** Runs a job on the calling thread. */
  runHere(calls: JobCall[], side: string | null): JobResult {
    let total = 0;
    let any = false;
    for (const c of calls) {
      const r = (this.host.exports[c.name] as (...a: number[]) => unknown)(...c.args);
      if (typeof r === 'number') {
        total = any ? total + r : r;
        any = true;
      }
    }
    return { total, side: side ? (this.host.exports[side] as () => number)() : 0 };
  }

  /** Runs `parts` at once: parts[0] here, parts[k] on worker k - 1 (here too when that worker is
   *  gone), and returns when all are done. The parts must touch disjoint memory; which thread runs a
   *  part changes nothing in it (the same calls on the same module), so neither do the results.
   *  `between` runs here once the parts are posted, before parts[0] (work that must not wait for
   *  them, such as copying the next block in). Returns whether any worker was still busy when this
   *  thread finished (it took too small a share). An error comes up after every posted part has
   *  finished (none is left running). */
  forkJoin(fn: string, parts: JobCall[][], between?: () => void): boolean {
    const posted: { w: number; seq: number; calls: JobCall[] }[] = [];
    const here: JobCall[][] = [parts[0]];
    for (let k = 1; k < parts.length; k++) {
      const w = k - 1;
      const seq = this.usable(w) ? this.nextSeq(w) : 0;
      if (seq && this.post(w, parts[k], null)) posted.push({ w, seq, calls: parts[k] });
      else here.push(parts[k]);
    }
    let error: unknown = null;
    let late = false;
    const open = posted.slice();
    try {
      between?.();
      for (const calls of here) this.runHere(calls, null);
      late = posted.some((p) => Atomics.load(this.thread(p.w).ctrl, DONE) < p.seq);
      // A part its worker has not taken yet (descheduled on a loaded machine, or still waking up)
      // runs here now: this thread has nothing else to do, and waiting could only finish it later.
      for (let i = 0; this.takeUntaken && i < open.length; i++) {
        const p = open[i];
        if (!this.claim(p.w, p.seq)) continue;
        open.splice(i--, 1);
        this.runHere(p.calls, null);
      }
    } catch (e) {
      error = e;
    }
    for (const p of open) {
      try {
        this.wait(fn, p.w, p.seq, p.calls, null);
      } catch (e) {
        error ??= e;
      }
    }
    if (error !== null) throw error;
    return late;
  }

  /** Takes worker w's job seq back for this thread to run (runHere) if the worker has not taken
   *  it yet; returns whether it did. The job is claimed as the worker claims it (compareExchange
   *  on TAKEN); the worker skips it when it gets there, and gets no new jobs until then (stalled). */
  claim(w: number, seq: number): boolean {
    const t = this.thread(w);
    if (Atomics.compareExchange(t.ctrl, TAKEN, seq - 1, seq) !== seq - 1) return false;
    t.stalled = seq;
    return true;
  }

  /** The result of worker w's job seq if it is done, else null (never blocks). */
  poll(fn: string, w: number, seq: number): JobResult | null {
    return Atomics.load(this.thread(w).ctrl, DONE) >= seq ? this.collect(fn, w, seq) : null;
  }

  private collect(fn: string, w: number, seq: number): JobResult {
    const t = this.thread(w);
    if (Atomics.load(t.ctrl, STATUS + (seq % DEPTH)) !== 0) fail(fn, `a kernel threw on worker thread ${w + 1}; this is a bug in wasm-xent, please report it`);
    const r = t.results[seq % DEPTH];
    return { total: r[0], side: r[1] };
  }

  /** Waits for worker w's job seq (posted with `post`; its earlier jobs collected) and returns its
   *  result. A job its worker has not taken after STEAL_MS is taken back and run here. */
  wait(fn: string, w: number, seq: number, calls: JobCall[], side: string | null): JobResult {
    const t = this.thread(w);
    const start = performance.now();
    for (;;) {
      if (Atomics.load(t.ctrl, DONE) >= seq) break;
      const elapsed = performance.now() - start;
      if (elapsed > STEAL_MS && this.claim(w, seq)) return this.runHere(calls, side);
      if (elapsed > this.hangMs) {
        this.replace(t, w + 1);
        fail(fn, `worker thread ${w + 1} took a job and did not finish it in ${this.hangMs / 1000} s (it died or hung); it is being replaced, call again`);
      }
      if (this.canBlock && elapsed >= SPIN_MS) {
        // DONE read before WAITING is set: a job finished in between makes the wait return at once
        const done = Atomics.load(t.ctrl, DONE);
        if (done >= seq) break;
        Atomics.store(t.ctrl, WAITING, 1);
        Atomics.wait(t.ctrl, DONE, done, 5);
        Atomics.store(t.ctrl, WAITING, 0);
      }
    }
    return this.collect(fn, w, seq);
  }
}

type NodeWorker = WorkerLike & { on(event: string, f: (x: unknown) => void): void; unref(): void };
type NodeProcess = { versions?: { node?: string }; getBuiltinModule?: (id: string) => { Worker: new (src: string, o: object) => NodeWorker } };

const notIsolated = (consequence: string) =>
  `this page is not cross-origin isolated (crossOriginIsolated is false)${consequence}; serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp`;

/** Where this code runs, for threads: 'node', 'browser' (cross-origin isolated), or why not. */
export function threadSupport(): { kind: 'node' | 'browser' } | { kind: 'none'; why: string } {
  const g = globalThis as unknown as { process?: NodeProcess; Deno?: unknown; Worker?: unknown; crossOriginIsolated?: boolean; SharedArrayBuffer?: unknown; navigator?: { userAgent?: string } };
  const edge = g.navigator?.userAgent === 'Cloudflare-Workers' || typeof (g as { EdgeRuntime?: unknown }).EdgeRuntime === 'string';
  if (edge || typeof g.SharedArrayBuffer !== 'function' || typeof Atomics === 'undefined') {
    if (!edge && g.crossOriginIsolated === false) return { kind: 'none', why: notIsolated(', so it has no SharedArrayBuffer') };
    return { kind: 'none', why: edge ? 'edge runtimes (Cloudflare workerd, Vercel edge) run one thread per request: no workers, no shared memory' : 'this runtime has no SharedArrayBuffer (edge runtimes such as Cloudflare workerd and Vercel edge run one thread per request)' };
  }
  if (g.process?.versions?.node && !g.Deno) {
    if (typeof g.process.getBuiltinModule !== 'function') return { kind: 'none', why: 'this Node.js lacks process.getBuiltinModule (Node 20.16+ / 22.3+ have it)' };
    return { kind: 'node' };
  }
  if (g.Deno) return { kind: 'none', why: 'Deno is not supported for threads yet (its workers are module workers)' };
  if (typeof g.Worker !== 'function') return { kind: 'none', why: 'this runtime has no Web Workers (edge runtimes such as Cloudflare workerd and Vercel edge run one thread per request)' };
  if (g.crossOriginIsolated !== true) return { kind: 'none', why: notIsolated('') };
  return { kind: 'browser' };
}

/** A worker running WORKER_SOURCE, in Node (worker_threads) or a browser (a Blob URL). */
function newWorker(onMessage: (m: unknown) => void, onError: (e: unknown) => void, onExit: () => void): WorkerLike {
  const g = globalThis as unknown as { process?: NodeProcess; Worker: new (url: string) => WorkerLike & { onmessage: unknown; onerror: unknown }; Blob: new (parts: string[], o: object) => unknown; URL: { createObjectURL(b: unknown): string; revokeObjectURL(u: string): void } };
  if (threadSupport().kind === 'node') {
    const { Worker } = g.process!.getBuiltinModule!('node:worker_threads');
    // (options without a prototype: Node reads argv, env, name... from them, which a polluted
    // Object.prototype would otherwise supply: red team 51, setThreads fell back to 1 thread)
    const worker = new Worker(WORKER_SOURCE, Object.assign(Object.create(null), { eval: true }));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    return worker;
  }
  const url = g.URL.createObjectURL(new g.Blob([WORKER_SOURCE], Object.assign(Object.create(null), { type: 'text/javascript' })));
  const worker = new g.Worker(url);
  g.URL.revokeObjectURL(url);
  worker.onmessage = (e: { data: unknown }) => onMessage(e.data);
  worker.onerror = (e: unknown) => onError(e);
  return worker;
}

/** The module's bytes with its own memory turned into an imported shared one (env.memory, maximum
 *  4 GiB): the same code, instantiable once per thread over one SharedArrayBuffer. The module has
 *  no imports and one memory (src/instantiate.ts). Returns the bytes and the memory's minimum pages. */
export function sharedMemoryBytes(bytes: Uint8Array): { bytes: Uint8Array; pages: number } {
  const leb = (v: number) => {
    const r: number[] = [];
    do {
      r.push((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
      v = Math.floor(v / 128);
    } while (v);
    return r;
  };
  const readLeb = (at: number): [number, number] => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++];
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return [v, at];
    }
  };
  const sections: { id: number; start: number; body: number; end: number }[] = [];
  for (let q = 8; q < bytes.length;) {
    const [size, body] = readLeb(q + 1);
    sections.push({ id: bytes[q], start: q, body, end: body + size });
    q = body + size;
  }
  const memory = sections.find((s) => s.id === 5);
  if (!memory || sections.some((s) => s.id === 2)) throw new Error('threads: expected a module with one memory of its own and no imports');
  let [count, at] = readLeb(memory.body);
  const flags = bytes[at++];
  const [pages] = readLeb(at);
  if (count !== 1 || flags > 1) throw new Error('threads: expected one unshared memory');
  const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const entry = [1, ...name('env'), ...name('memory'), 0x02, 0x03, ...leb(pages), ...leb(65536)];
  const importSection = [2, ...leb(entry.length), ...entry];
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let placed = false;
  for (const s of sections) {
    // Sections keep their order: the import section goes after the type section (id 1) and any
    // custom section before it, ahead of everything else.
    if (!placed && s.id !== 0 && s.id !== 1) {
      parts.push(Uint8Array.from(importSection));
      placed = true;
    }
    if (s.id !== 5) parts.push(bytes.subarray(s.start, s.end));
  }
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  parts.reduce((o, b) => (out.set(b, o), o + b.length), 0);
  return { bytes: out, pages };
}
