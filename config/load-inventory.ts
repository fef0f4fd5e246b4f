import { readFile } from 'node:fs/promises';
import { parse, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { inventory, type Inventory } from './inventory-schema.js';

/** An inventory that cannot be used: every problem names the file and the path to the field. */
export class InventoryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`inventory ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InventoryError';
  }
}

/** `secrets[2].consumers[0].url` from zod's path array. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${fieldPath(i.path) || '(top level)'}: ${i.message}`);
}

export function parseInventory(text: string, file = '<inline>'): Inventory {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new InventoryError(file, [`not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`]);
  }
  const parsed = inventory.safeParse(raw);
  if (!parsed.success) throw new InventoryError(file, formatIssues(parsed.error.issues));
  return parsed.data;
}

export async function loadInventory(file: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InventoryError(file, [
      `cannot read the file (${(err as NodeJS.ErrnoException).code}); set ROTOR_INVENTORY to an inventory YAML file`,
    ]);
  }
  return parseInventory(text, file);
}
