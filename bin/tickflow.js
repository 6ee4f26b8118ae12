#!/usr/bin/env node
// Entry of the `tickflow` bin. The sources are TypeScript run directly by Node's type stripping
// (Node >= 22.22 / 24), so there is no build step between a checkout and a running pipeline.
/* global process */
import { main } from '../src/cli/main.ts'

process.exitCode = await main(process.argv.slice(2))
