#!/usr/bin/env -S node --max-semi-space-size=64
// The installed `asof` command: runs the compiled CLI (built by `npm install` through `prepare`).
// A 64 MB young generation (V8's default is 16 MB): the stream job and the server allocate per
// event and per request, and with the default most of that survived into the old generation
// (BENCHMARKS.md, Streaming: +12-20% events per CPU second). `npm run bench` runs under the same
// flags (src/cli/node-flags.ts reads them from the line above).
import '../dist/cli/main.js';
