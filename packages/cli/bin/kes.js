#!/usr/bin/env node
// Thin launcher: all logic lives in the built CLI entry.
import { main } from '../dist/cli.js';

main(process.argv.slice(2));
