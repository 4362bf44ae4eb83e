// SPDX-License-Identifier: ISC
// Node 20 (Debian 12) has no fs.globSync, which the conformance suite
// imports (for its 'results' summary, which podvisor's tests do not
// use).  Registered with 'node --import ./node20-fs.mjs': the suite's
// import of "fs" gets node:fs plus a globSync that refuses to run.
import { register } from "node:module";
import * as fs from "node:fs";

if (typeof fs.globSync !== "function") {
  const shim = "data:text/javascript," + encodeURIComponent(
    'export * from "node:fs"; import fs from "node:fs"; export default fs;' +
    'export function globSync() { throw new Error("globSync needs node 22"); }');
  const hooks = "data:text/javascript," + encodeURIComponent(
    "export async function resolve(spec, ctx, next) {" +
    '  if ((spec === "fs" || spec === "node:fs") && ctx.parentURL &&' +
    '      ctx.parentURL.includes("/@modelcontextprotocol/conformance/"))' +
    "    return { url: " + JSON.stringify(shim) + ", shortCircuit: true };" +
    "  return next(spec, ctx); }");
  register(hooks);
}
