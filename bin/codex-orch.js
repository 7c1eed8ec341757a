#!/usr/bin/env node
// Installed entry point: runs the built CLI from dist/.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
