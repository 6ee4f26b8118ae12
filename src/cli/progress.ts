// A progress bar for file replays and imports on a terminal: percentage, rate and time left, from
// how far the file has been read (metrics/file-progress.ts). Off when standard error is not a
// terminal unless forced (TICKFLOW_PROGRESS=1, for tests); cleared at the end so the summary that
// follows is the last line. Any command reading a file can use it: startFileProgress(file, …).
import { readProgress } from '../metrics/file-progress.ts'

export interface ProgressOptions {
  /** e.g. "replay trades.csv" */
  label: string
  /** Items done so far (trades, rows), for the rate. */
  count: () => number
  unit: string
  stream?: NodeJS.WriteStream
  everyMs?: number
}

function clock(secs: number): string {
  if (!Number.isFinite(secs)) return '--:--'
  const s = Math.round(secs)
  const h = Math.floor(s / 3600)
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0')
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`
}

export function progressLine(
  label: string,
  fraction: number,
  count: number,
  unit: string,
  elapsedS: number,
): string {
  const width = 20
  const filled = Math.min(width, Math.round(fraction * width))
  const rate = count / Math.max(elapsedS, 0.001)
  const left = fraction > 0 ? (elapsedS * (1 - fraction)) / fraction : Infinity
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${Math.round(rate).toLocaleString('en')} ${unit}/s, ${clock(left)} left`
}

/** Starts drawing; returns stop(), which clears the bar. */
export function startFileProgress(file: string, o: ProgressOptions): () => void {
  const stream = o.stream ?? process.stderr
  if (!stream.isTTY && process.env.TICKFLOW_PROGRESS !== '1') return () => {}
  const started = Date.now()
  const draw = (): void => {
    const r = readProgress(file)
    if (!r) return
    const fraction = r.size > 0 ? Math.min(1, r.read / r.size) : 1
    stream.write(
      `\r${progressLine(o.label, fraction, o.count(), o.unit, (Date.now() - started) / 1000)}\x1b[K`,
    )
  }
  const timer = setInterval(draw, o.everyMs ?? 250)
  timer.unref()
  let stopped = false
  return () => {
    if (stopped) return
    stopped = true
    clearInterval(timer)
    stream.write('\r\x1b[K')
  }
}
