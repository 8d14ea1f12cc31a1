#!/usr/bin/env node
// The compiled CLI (npm install runs `prepare`, which builds dist/).
import "../dist/cli/main.js";
