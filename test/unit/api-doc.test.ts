import { readFileSync } from 'node:fs';
import path from 'node:path';
import { operations } from '../../src/modules/docs/operations';

const root = path.resolve(__dirname, '../..');

/** `METHOD /path` of every route row of docs/api.md (`| GET | /v1/models | ... |`). */
function documentedRoutes(): string[] {
  const text = readFileSync(path.join(root, 'docs/api.md'), 'utf8');
  const rows = [...text.matchAll(/^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`?(\/[^\s|`]*)`?\s*\|/gm)];
  return rows.map((row) => `${row[1]} ${row[2]}`);
}

describe('docs/api.md', () => {
  it('lists every route of the OpenAPI document, and nothing else', () => {
    const documented = documentedRoutes();
    const served = operations.map((op) => `${op.method.toUpperCase()} ${op.path}`);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it('is what the README points to, and the README points nowhere outside the repository', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toContain('(docs/api.md)');
    const targets = [...readme.matchAll(/\]\(([^)]+)\)/g)].map((match) => match[1]!);
    for (const target of targets) {
      if (/^https?:/.test(target)) continue;
      expect(target.startsWith('..')).toBe(false);
      expect(path.resolve(root, target.split('#')[0]!).startsWith(root)).toBe(true);
    }
    expect(readme).not.toContain('shared/');
  });
});
