// The page's preprocessing (neurozoo/demo/static/preprocess.js) on cases from tests/test_demo.py.
//
//   node preprocess_cases.mjs CASES.json    prints a JSON list: each case's input as 0-255 integers
//
// CASES: [{rgba: base64 RGBA bytes, width, height, inputSize: [C, H, W]}]

import fs from "node:fs";
import { toInput } from "../../neurozoo/demo/static/preprocess.js";

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const inputs = cases.map(({ rgba, width, height, inputSize }) =>
  Array.from(toInput(Buffer.from(rgba, "base64"), width, height, inputSize, true), (value) => Math.round(value * 255)),
);
process.stdout.write(JSON.stringify(inputs));
