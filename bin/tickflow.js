#!/usr/bin/env node
// Entry of the `tickflow` bin. The sources are TypeScript run directly by Node's type stripping
// (Node >= 22.22 / 24), so there is no build step between a checkout and a running pipeline.
/* global process, setTimeout */
import { main, report } from '../src/cli/main.ts'
import { guardSignals } from '../src/cli/signals.ts'

// A failure outside a command's own flow (an error event nobody awaited) still ends the process
// with one line and a non-zero code instead of a stack trace or a process that runs on half-broken.
process.on('uncaughtException', (err) => process.exit(report(err)))
process.on('unhandledRejection', (err) => process.exit(report(err)))
guardSignals()

const code = await main(process.argv.slice(2))
process.exitCode = code
// Everything is closed by now; a handle a library left open must not keep the process alive.
setTimeout(() => process.exit(code), 2000).unref()
