// Types of scripts/test-files.mjs for the tests that import it (test/test-files.test.ts).
export const INTEGRATION: RegExp;
export function testFiles(dir?: string): string[];
export function suite(name: string, files?: string[]): string[];
export function shards(files: string[], n: number, cost: (f: string) => number): string[][];
export function shardSource(files: string[], root?: string): string;
