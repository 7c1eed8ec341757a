#!/usr/bin/env node
// Installed entry point: runs the built CLI from dist/.
import { main } from '../dist/cli/main.js';
import { installProcessHandlers } from '../dist/cli/process-handlers.js';

installProcessHandlers();

process.exitCode = await main(process.argv);
