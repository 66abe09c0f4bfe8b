// Backstage as the oracle for `switchboard check`.
//
// Reads the cases in tests/fixtures/backstage-rules/cases*.json (inputs taken from Backstage's
// own unit tests, each naming its test) and every YAML file under
// tests/fixtures/{real-world,backstage-examples}, runs them through Backstage's default
// processing (the YAML reader, the entity envelope, the four default policies, the Entity
// schema, the built-in kinds' validators and the Location step; for entity cases also the
// policy stage alone, which is what Backstage's policy tests exercise) and writes
// tests/fixtures/backstage-rules/verdicts.json, which the Rust tests replay without node.
//
//   cd scripts/backstage-oracle && npm install && node oracle.cjs
//
// Two stand-ins, both outside validation: a declared extra kind (`Template`, as
// `catalog.kinds.extra` declares it by default) is recognised by a processor that accepts that
// kind in the apiVersion the scaffolder reads (its schema is not checked), and Location targets are "read" by a processor that reads nothing, so a verdict never
// depends on which files exist. Placeholders (`$text`, `$json`, `$yaml`) read "text" and `{}`.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const model = require('@backstage/catalog-model');
const { parseEntityYaml } = require('@backstage/plugin-catalog-node');
const backend = path.dirname(require.resolve('@backstage/plugin-catalog-backend'));
const { DefaultCatalogProcessingOrchestrator } = require(
  path.join(backend, 'processing/DefaultCatalogProcessingOrchestrator.cjs.js'),
);
const { BuiltinKindsEntityProcessor } = require(
  path.join(backend, 'processors/BuiltinKindsEntityProcessor.cjs.js'),
);
const placeholders = require(path.join(backend, 'processors/PlaceholderProcessor.cjs.js'));
const { LineCounter } = require('yaml');

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(ROOT, 'tests/fixtures');
const OUT = path.join(FIXTURES, 'backstage-rules/verdicts.json');
// Kinds declared beyond the built-in ones, with the apiVersions their processor reads.
const EXTRA_KINDS = { Template: ['scaffolder.backstage.io/v1beta3'] };

const version = (name) => require(`${name}/package.json`).version;

const silent = { child: () => silent, debug() {}, info() {}, warn() {}, error() {} };
const reader = {
  async readUrl(url) {
    const body = /\.(json|ya?ml)$/.test(url) ? '{}' : 'text';
    return { buffer: async () => Buffer.from(body) };
  },
};
// Resolves a placeholder's target as Backstage's default does for a URL, and relative to the
// file for a file location; the reader above answers for any target.
const integrations = {
  resolveUrl({ url, base }) {
    try {
      return new URL(url).toString();
    } catch {
      return url.startsWith('/') ? url : path.join(path.dirname(base), url);
    }
  },
};

const declaredKinds = {
  getProcessorName: () => 'DeclaredKindsProcessor',
  async validateEntityKind(entity) {
    return (EXTRA_KINDS[entity.kind] ?? []).includes(entity.apiVersion);
  },
};
const readsNothing = {
  getProcessorName: () => 'ReadsNothingProcessor',
  async readLocation() {
    return true;
  },
};

// The policy list of CatalogBuilder.buildEntityPolicy(), in its order.
const policy = model.EntityPolicies.allOf([
  new model.SchemaValidEntityPolicy(),
  new model.DefaultNamespaceEntityPolicy(),
  new model.NoForeignRootFieldsEntityPolicy(),
  new model.FieldFormatEntityPolicy(model.makeValidator()),
]);

const orchestrator = new DefaultCatalogProcessingOrchestrator({
  processors: [
    new placeholders.PlaceholderProcessor({
      resolvers: {
        json: placeholders.jsonPlaceholderResolver,
        yaml: placeholders.yamlPlaceholderResolver,
        text: placeholders.textPlaceholderResolver,
      },
      reader,
      integrations,
    }),
    new BuiltinKindsEntityProcessor(),
    declaredKinds,
    readsNothing,
  ],
  integrations,
  logger: silent,
  parser: async function* parser() {},
  policy,
  rulesEnforcer: { isAllowed: () => true },
  legacySingleProcessorValidation: false,
  // CatalogBuilder's default.
  allowedLocationTypes: ['url'],
});

function message(err) {
  let text = String(err && err.message ? err.message : err);
  let cause = err && err.cause;
  while (cause) {
    text += `; caused by ${cause.message ?? cause}`;
    cause = cause.cause;
  }
  return text;
}

// What the catalog does with one entity read from a file at `location` ("file:/…").
async function processEntity(entity, location) {
  const copy = JSON.parse(JSON.stringify(entity));
  if (copy && typeof copy === 'object' && !Array.isArray(copy)) {
    // The collector checks the envelope before anything else, as it does for a read entity.
    try {
      model.entityEnvelopeSchemaValidator()(copy);
    } catch (e) {
      return { valid: false, error: `envelope: ${message(e)}` };
    }
    copy.metadata.annotations = {
      ...(copy.metadata.annotations ?? {}),
      'backstage.io/managed-by-location': location,
      'backstage.io/managed-by-origin-location': location,
    };
  } else {
    return { valid: false, error: `Expected object at root, got ${Array.isArray(copy) ? 'array' : typeof copy}` };
  }
  const result = await orchestrator.process({ entity: copy, state: {} });
  if (result.ok) {
    return { valid: true };
  }
  return { valid: false, error: result.errors.map(message).join(' | ') };
}

// The policy stage alone (what the policy tests exercise): the envelope, then the four default
// policies in CatalogBuilder's order.
async function policiesOnly(entity) {
  try {
    const copy = JSON.parse(JSON.stringify(entity));
    model.entityEnvelopeSchemaValidator()(copy);
    await policy.enforce(copy);
    return { policies_valid: true };
  } catch (e) {
    return { policies_valid: false, policies_error: message(e) };
  }
}

function runFunction(name, input) {
  const [cls, fn] = name.split('.');
  const impl = { KubernetesValidatorFunctions: model.KubernetesValidatorFunctions, CommonValidatorFunctions: model.CommonValidatorFunctions }[cls];
  if (!impl || typeof impl[fn] !== 'function') {
    throw new Error(`unknown validator function ${name}`);
  }
  return { valid: Boolean(impl[fn](input)) };
}

async function runFile(rel) {
  const full = path.join(FIXTURES, rel);
  const text = fs.readFileSync(full, 'utf8');
  const location = { type: 'file', target: `/catalog/${rel}` };
  const lineCounter = new LineCounter();
  const yaml = require('yaml');
  // The reader's own documents, for their lines; parseEntityYaml below gives the verdicts.
  const docs = yaml.parseAllDocuments(text, { lineCounter }).filter((d) => d);
  const documents = [];
  let i = 0;
  for (const result of parseEntityYaml(Buffer.from(text), location)) {
    // Skip the documents the reader drops (empty ones) to stay aligned.
    while (i < docs.length && !docs[i].errors?.length && docs[i].toJSON() === null) i++;
    const doc = docs[i++];
    const offset = doc?.contents?.range?.[0] ?? doc?.range?.[0] ?? 0;
    const line = lineCounter.linePos(offset).line;
    if (result.type === 'entity') {
      documents.push({ line, ...(await processEntity(result.entity, `file:${location.target}`)) });
    } else {
      documents.push({ line, valid: false, error: message(result.error) });
    }
  }
  return { path: rel, documents };
}

function yamlFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(path.join(FIXTURES, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFiles(rel));
    else if (/\.ya?ml$/.test(entry.name)) out.push(rel);
  }
  return out.sort();
}

async function main() {
  const cases = [];
  const dir = path.join(FIXTURES, 'backstage-rules');
  for (const file of fs.readdirSync(dir).filter((f) => /^cases.*\.json$/.test(f)).sort()) {
    for (const c of JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      const verdict = c.function
        ? runFunction(c.function, c.input)
        : {
            ...(await processEntity(c.entity, 'file:/catalog/catalog-info.yaml')),
            ...(await policiesOnly(c.entity)),
          };
      cases.push({ ...c, file, ...verdict });
    }
  }
  const files = [];
  for (const rel of [...yamlFiles('real-world'), ...yamlFiles('backstage-examples')]) {
    files.push(await runFile(rel));
  }
  const out = {
    produced_by: {
      '@backstage/catalog-model': version('@backstage/catalog-model'),
      '@backstage/plugin-catalog-backend': version('@backstage/plugin-catalog-backend'),
      '@backstage/plugin-catalog-node': version('@backstage/plugin-catalog-node'),
      node: process.version,
      extra_kinds: EXTRA_KINDS,
      allowed_location_types: ['url'],
    },
    cases,
    files,
  };
  fs.writeFileSync(OUT, `${JSON.stringify(out, null, 1)}\n`);
  const invalid = cases.filter((c) => !c.valid).length;
  console.log(`${cases.length} cases (${invalid} invalid), ${files.length} files -> ${path.relative(ROOT, OUT)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
