// Validates external-secrets.io/v1 ExternalSecrets against the schema of the npm package
// @kubernetes-models/external-secrets (installed into DIR by `make external-secrets-schema`).
// Usage: node validate_external_secrets.mjs DIR < docs.json   (one object, or a JSON array)
// Prints a JSON array with one entry per document: null when it is valid, else the errors.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const dir = process.argv[2];
const module = join(dir, "node_modules/@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret.js");
const { ExternalSecret } = await import(pathToFileURL(module).href);
const input = JSON.parse(readFileSync(0, "utf8"));
const docs = Array.isArray(input) ? input : [input];
const results = docs.map((doc) => {
  if (doc.apiVersion !== ExternalSecret.apiVersion || doc.kind !== ExternalSecret.kind) {
    return [`not an ${ExternalSecret.apiVersion} ExternalSecret: ${doc.apiVersion} ${doc.kind}`];
  }
  try {
    new ExternalSecret(doc).validate();
    return null;
  } catch (error) {
    return [String(error.message)];
  }
});
process.stdout.write(JSON.stringify(results) + "\n");
