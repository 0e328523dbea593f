// Usage: node same.mjs a.ts a.js [b.ts b.js ...]
//
// Checks that the JavaScript form of a generated client is its TypeScript
// form without the types: both are printed by the TypeScript printer, the
// TypeScript after transpileModule, without comments, and must be equal.
import fs from "node:fs";
import ts from "typescript";

const files = process.argv.slice(2);
if (files.length === 0 || files.length % 2 !== 0) {
  console.error("usage: node same.mjs a.ts a.js [b.ts b.js ...]");
  process.exit(2);
}

const printer = ts.createPrinter({ removeComments: true });
const print = (name, src) =>
  printer.printFile(ts.createSourceFile(name, src, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS)).split("\n");

let failed = false;
for (let f = 0; f < files.length; f += 2) {
  const [tsFile, jsFile] = [files[f], files[f + 1]];
  const stripped = ts.transpileModule(fs.readFileSync(tsFile, "utf8"), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, useDefineForClassFields: true },
  }).outputText;
  const want = print("want.js", stripped);
  const got = print("got.js", fs.readFileSync(jsFile, "utf8"));
  const i = want.findIndex((line, i) => line !== got[i]);
  if (i >= 0 || want.length !== got.length) {
    const at = i >= 0 ? i : Math.min(want.length, got.length);
    console.error(`${jsFile} is not ${tsFile} without its types; first difference at printed line ${at + 1}:`);
    console.error(`  from the TypeScript: ${want[at] ?? "(end)"}`);
    console.error(`  in the JavaScript:   ${got[at] ?? "(end)"}`);
    failed = true;
    continue;
  }
  console.log(`ok: ${jsFile} is ${tsFile} without its types (${got.length} printed lines)`);
}
process.exit(failed ? 1 : 0);
