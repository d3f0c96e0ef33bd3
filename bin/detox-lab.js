#!/usr/bin/env node
import { main } from '../dist/core/cli/main.js';

// `detox-lab ... | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    else throw err;
  });
}
process.exitCode = await main(process.argv);
