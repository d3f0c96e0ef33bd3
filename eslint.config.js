// ESLint (flat config): typescript-eslint's recommended rules, no import circles (import-x/no-cycle), and the
// house plan (scripts/layers.mjs): no folder imports a folder above it, plugins/ import core only through
// core/index.ts, core never imports plugins/ except the composition root's link. `npm run lint`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { resolveSpecifier, violation } from './scripts/layers.mjs';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** `house/layers`: every relative import (static, re-export, dynamic with a literal) must follow the house plan. */
const layers = {
  meta: { type: 'problem', docs: { description: 'imports follow the house plan (scripts/layers.mjs)' }, schema: [] },
  create(context) {
    const file = path.relative(ROOT, context.filename).split(path.sep).join('/');
    const check = (node) => {
      const spec = node?.type === 'Literal' && typeof node.value === 'string' ? node.value : null;
      if (!spec) return;
      const target = resolveSpecifier(file, spec);
      const why = target && violation(file, target);
      if (why) context.report({ node, message: `'${spec}' (${target}): ${why}` });
    };
    return {
      ImportDeclaration: (n) => check(n.source),
      ExportNamedDeclaration: (n) => check(n.source),
      ExportAllDeclaration: (n) => check(n.source),
      ImportExpression: (n) => check(n.source),
    };
  },
};

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'native/build/**', 'schema/**', 'runs/**', 'test-artifacts/**', 'bench-profiles/**', 'docs/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { sourceType: 'module' } },
    plugins: { 'import-x': importX, house: { rules: { layers } } },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: path.join(ROOT, 'tsconfig.json') })],
    },
    rules: {
      'house/layers': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests read JSON (schemas, API answers, fixtures) whose shape is what they assert: `any` is fine there.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['core/serve/static/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['document', 'window', 'fetch', 'location', 'CSS', 'Blob', 'URL', 'URLSearchParams', 'console', 'setTimeout', 'clearTimeout'].map(
          (g) => [g, 'readonly'],
        ),
      ),
    },
  },
  {
    files: ['**/*.mjs', 'eslint.config.js', 'bin/**/*.js'],
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },
);
