// SPDX-License-Identifier: ISC
// An editor played by the official ACP SDK (@agentclientprotocol/sdk):
// spawns `podvisor acp ARGS...` and connects to it with the SDK's client
// over ndJsonStream.  The Python test drives it with one JSON command a
// line on stdin and reads one JSON event a line on stdout:
//
//   {"op":"request","tag":T,"method":M,"params":P}  -> {"tag":T,"result":R}
//                                                   or {"tag":T,"error":E}
//   {"op":"notify","method":M,"params":P}           (no answer)
//   {"op":"permission","answer":{...}}              how the next
//        session/request_permission is answered ({"optionId":ID} or
//        {"cancelled":true}; default: wait for a {"op":"answer"})
//   {"op":"answer","tag":T,"outcome":O}             answer the pending
//        permission request T with outcome O
//   {"op":"exit"}                                   close and exit
//
// Every session/update arrives as {"update": params}; every permission
// request as {"permission": params, "tag": T}; the agent's exit as
// {"exit": code}.
import { spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";
import { createInterface } from "node:readline";
import * as acp from "@agentclientprotocol/sdk";

const [cli, ...args] = process.argv.slice(2);
const agent = spawn(cli, ["acp", ...args], {
  stdio: ["pipe", "pipe", "inherit"],
});
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
agent.on("exit", (code, signal) => out({ exit: code, signal }));

const stream = acp.ndJsonStream(
  Writable.toWeb(agent.stdin),
  Readable.toWeb(agent.stdout),
);

const pending = new Map(); // permission tag -> resolve
let nextTag = 1;

const app = acp
  .client({ name: "podvisor-acp-test" })
  .onNotification("session/update", (ctx) => {
    out({ update: ctx.params });
  })
  .onRequest("session/request_permission", (ctx) => {
    const tag = "perm" + nextTag++;
    out({ permission: ctx.params, tag });
    return new Promise((resolve) => {
      pending.set(tag, resolve);
      ctx.signal.addEventListener("abort", () => {
        if (pending.delete(tag)) {
          out({ permission_aborted: tag });
          resolve({ outcome: { outcome: "cancelled" } });
        }
      });
    });
  });

await app.connectWith(stream, async (ctx) => {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const cmd = JSON.parse(line);
    if (cmd.op === "exit") break;
    if (cmd.op === "request") {
      ctx.request(cmd.method, cmd.params).then(
        (result) => out({ tag: cmd.tag, result: result ?? null }),
        (e) =>
          out({
            tag: cmd.tag,
            error: { code: e.code, message: e.message, data: e.data },
          }),
      );
    } else if (cmd.op === "notify") {
      ctx.notify(cmd.method, cmd.params);
    } else if (cmd.op === "answer") {
      const resolve = pending.get(cmd.tag);
      pending.delete(cmd.tag);
      if (resolve) resolve({ outcome: cmd.outcome });
      else out({ tag: cmd.tag, error: { message: "no such permission" } });
    }
  }
});
agent.stdin.end();
