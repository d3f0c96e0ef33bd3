/**
 * Writes schema/detoxrc.schema.json from the zod schema and the built-in plugins: `npm run schema`, then commit the
 * file. The build leaves the committed file alone, so test/config/json-schema.test.ts can tell when it is stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../config/json-schema.js';
import { builtinRegistry } from './builtins.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const out = path.join(root, 'schema', 'detoxrc.schema.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(configJsonSchema(builtinRegistry()), null, 2)}\n`);
