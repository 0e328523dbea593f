// node asyncapi/validate.mjs DOC.json...: validates AsyncAPI documents
// against the official AsyncAPI 3.0.0 JSON Schema of npm @asyncapi/specs,
// with ajv (draft-07, the schema's dialect). Prints "ok: FILE" for each valid
// document; otherwise every error, and exits 1.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const require = createRequire(import.meta.url);
const specs = require("@asyncapi/specs");
const schema = specs.schemas["3.0.0"];
if (!schema) {
  console.error("@asyncapi/specs has no 3.0.0 schema");
  process.exit(2);
}
// The schema embeds the draft-07 meta-schema among its definitions: ajv must
// not add its own copy (meta: false), which would make the $id ambiguous.
const ajv = new Ajv({ allErrors: true, strict: false, meta: false, validateSchema: false });
addFormats(ajv);
const validate = ajv.compile(schema);
let failed = false;
for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(readFileSync(file, "utf8"));
  if (validate(doc)) {
    console.log(`ok: ${file}`);
    continue;
  }
  failed = true;
  for (const e of validate.errors) {
    console.error(`${file}: ${e.instancePath || "(root)"}: ${e.message} ${JSON.stringify(e.params)}`);
  }
}
process.exit(failed ? 1 : 0);
