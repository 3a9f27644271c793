#!/usr/bin/env node
// A committed shim: npm links bins at install time, before `prepare` builds dist/, and skips
// targets that do not exist yet. The shim always exists, so `npx meshguard` works after `npm ci`.
import '../dist/src/cli/main.js';
